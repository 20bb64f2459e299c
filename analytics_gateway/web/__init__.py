"""The web UI and the offline GraphiQL page, built from `frontend/` into `web/dist`."""
