"""Fault injection for the sandbox: latency, 503s, rate limiting,
dropped connections after commit, short pages. All off by default."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field


@dataclass
class FaultSettings:
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    rate_limit: float = 0.0
    drop_after_commit_rate: float = 0.0
    page_cap: int | None = None
    seed: int | None = None
    ignore_fields: tuple[str, ...] = ()
    """Input fields that update mutations pretend to store (scalars only)."""


@dataclass
class Faults:
    settings: FaultSettings
    _rng: random.Random = field(init=False)
    _tokens: float = field(init=False)
    _stamp: float = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.settings.seed)
        self._tokens = self.settings.rate_limit
        self._stamp = time.monotonic()

    def should_fail(self) -> bool:
        return self.settings.fail_rate > 0 and self._rng.random() < self.settings.fail_rate

    def should_drop(self) -> bool:
        rate = self.settings.drop_after_commit_rate
        return rate > 0 and self._rng.random() < rate

    def retry_after(self) -> int | None:
        """None when the request may pass the rate limit, else seconds to wait."""
        limit = self.settings.rate_limit
        if limit <= 0:
            return None
        with self._lock:
            now = time.monotonic()
            self._tokens = min(limit, self._tokens + (now - self._stamp) * limit)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
        return 1
