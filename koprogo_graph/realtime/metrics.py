"""Live delivery metrics (SPEC §8): connected subscribers, events delivered and dropped."""

from prometheus_client import Counter, Gauge

__all__ = ["CHANNELS", "DELIVERED", "DROPPED", "SHARED_STREAMS", "SUBSCRIBERS"]

SUBSCRIBERS = Gauge(
    "koprogo_live_subscribers", "Live subscriptions held by this process that events can reach"
)
SHARED_STREAMS = Gauge(
    "koprogo_live_shared_streams",
    "Distinct live operations executed by this process (identical subscriptions share one)",
)
CHANNELS = Gauge("koprogo_live_channels", "Broadcast channels this process listens to")
DELIVERED = Counter("koprogo_live_events_delivered", "Results handed to live subscriptions")
DROPPED = Counter(
    "koprogo_live_events_dropped_slow", "Results dropped because a subscriber (or stream) lagged"
)
