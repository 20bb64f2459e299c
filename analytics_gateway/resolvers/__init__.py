"""Thin functions behind fields: authorise, validate, call loaders/services, map types."""
