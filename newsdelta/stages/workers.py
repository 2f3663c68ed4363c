"""CPU-bound extraction in worker processes, so a run uses every core while threads wait on
the network. Workers are spawned (not forked: the flow process has threads) once per process
and reused; small runs extract in-process, where a worker's start-up would cost more.

Articles are stored one batch after another, in publication order, by one thread of the flow
process: that thread is the run's critical path. So the extraction workers run at a lower
priority than the flow process (they take the CPU it leaves), and pages waiting for a worker
are extracted earliest article first, not in the order their fetches happened to finish, so
the batch the storing thread needs next is ready first."""

from __future__ import annotations

import atexit
import heapq
import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from newsdelta import metrics
from newsdelta.errors import ExtractionError
from newsdelta.stages.extract import Extracted, extract_article
from textdelta import Document
from textdelta.furniture import content_blocks
from textdelta.terms import article_terms

MIN_ARTICLES_FOR_POOL = 16
NICENESS = 5  # added to the workers' nice value: the flow process, which stores, goes first
QUEUED_PER_WORKER = 2  # extractions handed to the pool at once, per worker: one running, one ready
PARENT_CHECK_S = 0.5  # how often a worker looks whether the process that started it is still there
_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=os.cpu_count() or 2, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start_worker, initargs=(os.getpid(),))
            atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
        return _pool


def _start_worker(parent: int) -> None:
    if hasattr(os, "nice"):  # POSIX; elsewhere the workers keep the flow process's priority
        os.nice(NICENESS)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    """A worker whose parent was killed (SIGKILL, the OOM killer) would wait for work forever:
    it holds its task queue's writing end itself, so it never sees the queue close. When it is
    handed to another parent, it exits. (Not PR_SET_PDEATHSIG: that fires when the *thread*
    that spawned the worker ends, and the pool is started from a fetch thread that ends with
    its batch.)"""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def shutdown() -> None:
    """Stop the workers (the next extraction spawns new ones)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


class PriorityGate:
    """At most `slots` holders at a time; those waiting are let in lowest priority first (ties
    in arrival order). A slot is handed straight to the next waiter, so none is lost between."""

    def __init__(self, slots: int) -> None:
        self._lock = threading.Lock()
        self._free = slots
        self._waiting: list[tuple[int, int, threading.Event]] = []
        self._arrivals = itertools.count()

    @contextmanager
    def slot(self, priority: int) -> Iterator[None]:
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                turn = None
            else:
                turn = threading.Event()
                heapq.heappush(self._waiting, (priority, next(self._arrivals), turn))
        if turn is not None:
            turn.wait()
        try:
            yield
        finally:
            with self._lock:
                if self._waiting:
                    heapq.heappop(self._waiting)[2].set()
                else:
                    self._free += 1


_gate = PriorityGate(QUEUED_PER_WORKER * (os.cpu_count() or 2))


def extract(body: bytes, url: str, parallel: bool, priority: int = 0) -> Extracted | ExtractionError:
    """The extraction, or the ExtractionError it raised (returned, so it crosses processes as a
    value). Among pages waiting for a worker, the lowest `priority` (the article's place in
    publication order) goes first. The "extract" stage counts time spent extracting, in
    whichever process did it."""
    if parallel:
        with _gate.slot(priority):
            result, seconds = _in_worker(body, url)
    else:
        result, seconds = timed_extract(body, url)
    metrics.add("extract", seconds)
    return result


_retry_lock = threading.Lock()


def _in_worker(body: bytes, url: str) -> tuple[Extracted | ExtractionError, float]:
    """A worker that dies (killed for memory, or crashed in a C extension on a hostile page)
    breaks the whole pool: every page in it fails, and every later submit would too. So the
    pool is replaced and the page tried again, one retried page at a time, so that a page which
    kills its worker fails alone, as that page's error, and the run goes on."""
    executor = pool()
    try:
        return executor.submit(timed_extract, body, url).result()
    except BrokenProcessPool:
        _replace(executor)
    with _retry_lock:
        executor = pool()
        try:
            return executor.submit(timed_extract, body, url).result()
        except BrokenProcessPool:
            _replace(executor)
    return ExtractionError("the extraction worker died twice while extracting this page (out of memory, or a crash in the HTML parser)"), 0.0


def _replace(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None  # the next pool() starts fresh workers
    broken.shutdown(wait=False, cancel_futures=True)


def timed_extract(body: bytes, url: str) -> tuple[Extracted | ExtractionError, float]:
    started = time.perf_counter()
    try:
        result = extract_article(body, url)
    except ExtractionError as exc:
        return exc, time.perf_counter() - started
    seconds = time.perf_counter() - started
    if result.title:
        # Indexing terms are pure CPU: computed here, in parallel, rather than in the one
        # process that stores articles in order. Not counted as extraction time.
        result.terms = article_terms(result.title, content_blocks(Document.from_dicts(result.blocks, title=result.title)).text)
    return result, seconds
