"""Dashboards: per-tenant documents of widgets, planned onto the dataloaders, updated live.

- `model`: the plain dataclasses and their stored (JSON) form;
- `formula`: the KPI formula language (parsed, never `eval`);
- `variables`: `$name` substitution into widget queries;
- `catalogue`: named data sources, presets and the demo dashboard;
- `repository`: versioned storage in the `ConfigStore`;
- `planner`: widget -> loader keys -> widget results, one backend call per batch;
- `live`: coalesced live updates of a dashboard's widgets.
"""
