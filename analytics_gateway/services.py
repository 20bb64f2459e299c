"""The long-lived collaborators of one app, built once in `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from analytics_gateway.alerting.service import AlertService
from analytics_gateway.backends.factory import Backends
from analytics_gateway.config import Settings
from analytics_gateway.ingest import IngestService
from analytics_gateway.ml.service import MlService
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.subscriptions.cohorts import CohortRegistry
from analytics_gateway.subscriptions.hub import Hub
from analytics_gateway.subscriptions.sessions import SessionRegistry


@dataclass
class Services:
    settings: Settings
    backends: Backends
    ingest: IngestService
    hub: Hub
    metrics: GatewayMetrics
    cohorts: CohortRegistry
    sessions: SessionRegistry
    alerts: AlertService
    ml: MlService | None = None
