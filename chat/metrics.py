"""Prometheus metrics, correct across worker processes.

With PROMETHEUS_MULTIPROC_DIR set (an empty folder shared by a host's workers, emptied
before they start), every worker writes its figures there and /metrics on any worker
reports the sum; without it, /metrics reports this process alone. Everything here is
counted once per event or frame, never once per delivered socket write.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

connections_open = Gauge(
    "chat_connections_open", "Room sockets open now.", multiprocess_mode="livesum"
)
messages_stored = Counter("chat_messages_stored", "Messages stored.")
deliveries = Counter("chat_deliveries", "Frames written to room sockets by the fan-out.")
resumes = Counter("chat_resumes", "Catch-up (sync) requests served.")
resumed_events = Counter("chat_resumed_events", "Room events sent in answer to sync.")
frames_rejected = Counter("chat_frames_rejected", "Frames refused, by error code.", ["code"])
sockets_refused = Counter(
    "chat_sockets_refused", "Sockets closed as they opened, by close code.", ["code"]
)
fanout_seconds = Histogram(
    "chat_fanout_seconds",
    "From a message's commit to its frames being written to this worker's sockets.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def exposition() -> tuple[bytes, str]:
    """The metrics page: every worker's figures in multiprocess mode, else this one's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
