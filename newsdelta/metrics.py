"""Time spent per stage in this process (summed over threads), for the benchmark and the run
summary. Cheap enough to leave on: one lock and one addition per stage call."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_totals: dict[str, float] = {}
_counts: dict[str, int] = {}
_lock = threading.Lock()


@contextmanager
def stage(name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - started)


def add(name: str, seconds: float) -> None:
    """Record time measured elsewhere (in a worker process, say)."""
    with _lock:
        _totals[name] = _totals.get(name, 0.0) + seconds
        _counts[name] = _counts.get(name, 0) + 1


def snapshot() -> dict[str, dict[str, float]]:
    with _lock:
        return {k: {"seconds": round(v, 3), "calls": _counts[k]} for k, v in _totals.items()}


def reset() -> None:
    with _lock:
        _totals.clear()
        _counts.clear()
