"""Alerting's own Prometheus metrics, on the gateway's injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.evaluations = Counter(
            "gateway_alert_evaluations",
            "Rule evaluations run by this process.",
            registry=registry,
        )
        self.rounds = Histogram(
            "gateway_alert_round_seconds",
            "Duration of one evaluation round (one store read for all due rules).",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.lag = Histogram(
            "gateway_alert_evaluation_lag_seconds",
            "From the moment a rule was due (interval or ingest) to its evaluation's end.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.owned_rules = Gauge(
            "gateway_alert_rules_owned",
            "Rules this process evaluates (its share of the rule leases).",
            registry=registry,
        )
        self.transitions = Counter(
            "gateway_alert_transitions", "Alert state changes.", ["state"], registry=registry
        )
        self.notifications_queued = Counter(
            "gateway_alert_notifications_queued",
            "Notifications put in the outbox.",
            registry=registry,
        )
        self.notifications_sent = Counter(
            "gateway_alert_notifications_sent",
            "Notifications delivered.",
            registry=registry,
        )
        self.delivery_failures = Counter(
            "gateway_alert_delivery_failures",
            "Failed delivery attempts (each is retried with backoff).",
            registry=registry,
        )
        self.state_conflicts = Counter(
            "gateway_alert_state_conflicts",
            "State writes refused because another process wrote first (lease hand-over).",
            registry=registry,
        )
