"""The metric names self-monitoring writes, in one place: the collector, the agent,
the `gateway_health` dashboard preset and the health alert rules use these.

Host series carry `host` (the host name); disk usage adds `path` (the mount
point measured) and per-CPU use adds `cpu`. The gateway's own series carry
`host` and `instance` (`host:port`). Rates are per second over the collection
interval; every label takes a bounded set of values.
"""

from __future__ import annotations

# -- any host: the collector (the gateway's own host) and the agent ------------------------

CPU_USAGE = "cpu_usage"
"""Percent of all CPUs busy."""
CPU_CORE_USAGE = "cpu_core_usage"
"""Percent busy of one CPU (label `cpu`); only when per-CPU series are asked for."""
MEMORY_USAGE = "memory_usage"
"""Percent of memory in use: (total - available) / total."""
MEMORY_USED = "memory_used_bytes"
"""Bytes in use: total - available."""
MEMORY_AVAILABLE = "memory_available_bytes"
"""Bytes available to new processes without swapping."""
DISK_USAGE = "disk_usage"
"""Percent of the filesystem used (label `path`: its mount point)."""
DISK_USED = "disk_used_bytes"
DISK_FREE = "disk_free_bytes"
DISK_READ = "disk_read_bytes_per_second"
"""Bytes read per second from all disks."""
DISK_WRITE = "disk_write_bytes_per_second"
NETWORK_SENT = "network_sent_bytes_per_second"
"""Bytes sent per second on every interface but loopback."""
NETWORK_RECEIVED = "network_received_bytes_per_second"

HOST_METRICS = (
    CPU_USAGE,
    MEMORY_USAGE,
    MEMORY_USED,
    MEMORY_AVAILABLE,
    DISK_USAGE,
    DISK_USED,
    DISK_FREE,
    DISK_READ,
    DISK_WRITE,
    NETWORK_SENT,
    NETWORK_RECEIVED,
)
"""Always written (disk rates only where the kernel counts disk I/O); per-CPU apart."""

# -- the gateway itself: the collector only --------------------------------------------------

REQUESTS = "gateway_requests_per_second"
"""HTTP requests answered per second (every route)."""
ERRORS = "gateway_errors_per_second"
"""Errors per second by `code`: a GraphQL error's `extensions.code`, or `HTTP_<status>`
for a REST or line-protocol answer of 400 or more and any 5xx."""
ERROR_RATIO = "gateway_error_ratio"
"""Share of HTTP requests that failed on the gateway's side (a 5xx, or a GraphQL
INTERNAL_SERVER_ERROR, BACKEND_UNAVAILABLE or REQUEST_TIMEOUT), 0 to 1."""
LATENCY_P50 = "gateway_latency_p50_ms"
"""Median latency of GraphQL queries and mutations that ended in the interval (from
`gateway_graphql_request_seconds` buckets, interpolated); none when none ended."""
LATENCY_P95 = "gateway_latency_p95_ms"
INGESTED = "gateway_ingested_per_second"
"""Points and events stored per second (label `kind`: point or event)."""
BUFFER_ENTRIES = "gateway_buffer_entries"
"""Batches waiting in the ingest buffer (0 without one)."""
BUFFER_OLDEST = "gateway_buffer_oldest_seconds"
"""Age of the oldest batch waiting in the ingest buffer."""
SUBSCRIPTIONS = "gateway_subscriptions"
"""Live subscriptions this process serves."""
ALERT_LAG = "gateway_alert_lag_seconds"
"""How late alert evaluation runs: the larger of the p95 lag of the evaluations in the
interval and how overdue the most overdue rule of this process is now."""
GC_COLLECTIONS = "gateway_gc_collections_per_second"
"""Python garbage collections per second (label `generation`: 0, 1, 2)."""
THREADS = "gateway_threads"
"""Threads of the process (the event loop's, store and worker threads)."""
EVENT_LOOP_LAG = "gateway_event_loop_lag_ms"
"""The longest a timer of the event loop fired late in the interval."""
PROCESS_CPU = "gateway_process_cpu_usage"
"""CPU the process used, in percent of one CPU."""
PROCESS_MEMORY = "gateway_process_memory_bytes"
"""Resident memory of the process."""

GATEWAY_METRICS = (
    REQUESTS,
    ERRORS,
    ERROR_RATIO,
    LATENCY_P50,
    LATENCY_P95,
    INGESTED,
    BUFFER_ENTRIES,
    BUFFER_OLDEST,
    SUBSCRIPTIONS,
    ALERT_LAG,
    GC_COLLECTIONS,
    THREADS,
    EVENT_LOOP_LAG,
    PROCESS_CPU,
    PROCESS_MEMORY,
)
