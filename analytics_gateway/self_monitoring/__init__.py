"""Self-monitoring: the gateway's host and the gateway itself, as ordinary metrics.

Two writers produce the same host series, so one dashboard (the
`gateway_health` preset) and one set of alert rules serve both:

- `collector.SelfMonitor`, a background task of every gateway, stores its
  host's figures and its own (requests, errors, latency, ingest, buffer,
  subscriptions, alert lag, Python runtime) as metrics of the operator tenant
  (`ANALYTICS_SELF_TENANT`) every `ANALYTICS_SELF_INTERVAL_SECONDS`, through
  the normal ingest path;
- `agent`, the `analytics-gateway agent` command, pushes any host's figures to
  a gateway's `/write` as InfluxDB line protocol, as Telegraf would.

`series` names every metric; `health_alerts` holds the rules
`enableHealthAlerts` creates.
"""
