"""How far the ingest run in this process has got, for whoever watches it: the CLI draws a
live line on a terminal and writes a line per batch otherwise (`show`). The run reports
through `begin`, `fetched_one`, `planned`, `batch_stored` and `end`; with nobody watching
that costs a lock and an addition per article."""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TextIO

from newsdelta.http_client import hosts_waiting


@dataclass
class RunProgress:
    feeds: int = 0  # polled so far
    feeds_failed: int = 0
    articles: int = 0  # due this run
    batches: int = 0
    batches_stored: int = 0
    fetched: int = 0  # pages fetched (or failed to fetch)
    stored: int = 0  # new versions stored
    unchanged: int = 0
    failed: int = 0
    findings: int = 0


Listener = Callable[[str, RunProgress], None]  # (event, a copy of the counts)

_lock = threading.Lock()
_current: RunProgress | None = None
_listeners: list[Listener] = []


def begin() -> None:
    global _current
    with _lock:
        _current = RunProgress()


def end() -> None:
    global _current
    _emit("end")
    with _lock:
        _current = None


def polled(statuses: Iterable[str]) -> None:
    statuses = list(statuses)
    _update(feeds=len(statuses), feeds_failed=sum(s == "error" for s in statuses))
    _emit("polled")


def planned(articles: int, batches: int) -> None:
    _update(articles=articles, batches=batches)
    _emit("planned")


def fetched_one() -> None:
    with _lock:
        if _current is not None:
            _current.fetched += 1


def batch_stored(statuses: Iterable[str], findings: int) -> None:
    statuses = list(statuses)
    with _lock:
        if _current is None:
            return
        _current.batches_stored += 1
        _current.stored += sum(s in ("stored", "feed_only") for s in statuses)
        _current.unchanged += statuses.count("unchanged")
        _current.failed += statuses.count("failed")
        _current.findings += findings
    _emit("batch")


def snapshot() -> RunProgress | None:
    with _lock:
        return None if _current is None else replace(_current)


def _update(**counts: int) -> None:
    with _lock:
        if _current is not None:
            for name, value in counts.items():
                setattr(_current, name, value)


def _emit(event: str) -> None:
    counts = snapshot()
    if counts is None:
        return
    for listener in list(_listeners):
        listener(event, counts)


@contextmanager
def watch(listener: Listener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def describe(p: RunProgress, waiting: dict[str, float] | None = None) -> str:
    """One line: how far the run is, and which hosts hold it up with their per-host spacing."""
    if not p.batches:
        line = f"{p.feeds} feed(s) polled" + (f", {p.feeds_failed} failed" if p.feeds_failed else "")
    else:
        line = (f"{p.fetched}/{p.articles} article(s) fetched; batch {p.batches_stored}/{p.batches} stored: "
                f"{p.stored} new, {p.unchanged} unchanged, {p.failed} failed, {p.findings} finding(s)")
    if waiting:
        hosts = sorted(waiting, key=lambda h: -waiting[h])
        shown = ", ".join(f"{h} ({waiting[h]:.0f}s queued)" for h in hosts[:3]) + (f" and {len(hosts) - 3} more" if len(hosts) > 3 else "")
        line += f"; per-host spacing holds {shown}"
    return line


@contextmanager
def show(stream: TextIO | None = None, live: bool | None = None, interval_s: float = 0.5, width: int | None = None) -> Iterator[None]:
    """Report the run on `stream` (stderr): on a terminal a line redrawn every `interval_s`, cut
    to `width` (the terminal's), otherwise one line when the feeds are polled and one per
    stored batch."""
    out = stream if stream is not None else sys.stderr
    live = out.isatty() if live is None else live
    if not live:
        def line_per_batch(event: str, p: RunProgress) -> None:
            if event in ("polled", "batch"):
                out.write(f"progress: {describe(p)}\n")
                out.flush()

        with watch(line_per_batch):
            yield
        return
    stop = threading.Event()
    drawn = [0]  # length of the line on screen

    def draw() -> None:
        while not stop.wait(interval_s):
            p = snapshot()
            if p is not None and (p.feeds or p.articles):
                # One terminal row: a line that wraps cannot be redrawn in place.
                text = describe(p, hosts_waiting())[: (width or shutil.get_terminal_size().columns) - 1]
                out.write("\r" + text.ljust(drawn[0]))
                out.flush()
                drawn[0] = len(text)

    drawer = threading.Thread(target=draw, name="newsdelta-progress", daemon=True)
    drawer.start()
    try:
        yield
    finally:
        stop.set()
        drawer.join()
        if drawn[0]:
            out.write("\r" + " " * drawn[0] + "\r")
            out.flush()
