"""CPU-bound extraction in worker processes, so a run uses every core while threads wait on
the network. Workers are spawned (not forked: the flow process has threads) once per process
and reused; small runs extract in-process, where a worker's start-up would cost more."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from newsdelta import metrics
from newsdelta.errors import ExtractionError
from newsdelta.extract import Extracted, extract_article
from textdelta import Document
from textdelta.terms import article_terms

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


def shutdown() -> None:
    """Stop the workers (the next extraction spawns new ones)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


def extract(body: bytes, url: str, parallel: bool) -> Extracted | ExtractionError:
    """The extraction, or the ExtractionError it raised (returned, so it crosses processes as a
    value). The "extract" stage counts time spent extracting, in whichever process did it."""
    result, seconds = pool().submit(timed_extract, body, url).result() if parallel else timed_extract(body, url)
    metrics.add("extract", seconds)
    return result


def timed_extract(body: bytes, url: str) -> tuple[Extracted | ExtractionError, float]:
    started = time.perf_counter()
    try:
        result: Extracted | ExtractionError = extract_article(body, url)
    except ExtractionError as exc:
        return exc, time.perf_counter() - started
    seconds = time.perf_counter() - started
    if result.title:
        # Indexing terms are pure CPU: computed here, in parallel, rather than in the one
        # process that stores articles in order. Not counted as extraction time.
        result.terms = article_terms(result.title, Document.from_dicts(result.blocks, title=result.title).text)
    return result, seconds
