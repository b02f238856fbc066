"""Per-sensor token buckets: a device may burst, but not sustain more than its rate."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets keyed by sensor (or viewer), refilled at ``rate`` tokens/s up to ``burst``.

    Memory is bounded: the least recently seen keys are forgotten beyond ``max_keys`` (a
    forgotten key starts again with a full bucket, which only errs on the lenient side).
    """

    def __init__(self, rate: float = 1.0, burst: float = 10.0, max_keys: int = 200_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def allow(self, key: Hashable, now: float, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens for ``key`` at time ``now`` (seconds, monotonic); False (and
        nothing taken) if there are not that many left."""
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
        allowed = tokens >= cost
        self._buckets[key] = (tokens - cost if allowed else tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return allowed
