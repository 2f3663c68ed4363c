"""CPU-bound extraction in worker processes, so a run uses every core while threads wait on
the network. Workers are spawned (not forked: the flow process has threads) once per process
and reused; small runs extract in-process, where a worker's start-up would cost more."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor

from newsdelta import metrics
from newsdelta.errors import ExtractionError
from newsdelta.extract import Extracted, extract_article

MIN_ARTICLES_FOR_POOL = 16
_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=os.cpu_count() or 2, mp_context=multiprocessing.get_context("spawn"))
            atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
        return _pool


def extract(body: bytes, url: str, parallel: bool) -> Extracted | ExtractionError:
    """The extraction, or the ExtractionError it raised (returned, so it crosses processes as a value)."""
    try:
        with metrics.stage("extract"):
            return _extract(body, url, parallel)
    except ExtractionError as exc:
        return exc


def _extract(body: bytes, url: str, parallel: bool) -> Extracted:
    if parallel:
        return pool().submit(extract_article, body, url).result()
    return extract_article(body, url)
