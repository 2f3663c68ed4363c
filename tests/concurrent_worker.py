"""One ingest worker as its own process (python -m tests.concurrent_worker DB_URL HOME FEED...),
used by the concurrency tests to run two at once against one database."""

from __future__ import annotations

import sys

from newsdelta.http_client import Fetcher
from newsdelta.settings import FeedConfig, load_settings
from newsdelta.storage.db import make_engine
from tests.builders import run


def main() -> None:
    database_url, home, *feeds = sys.argv[1:]
    settings = load_settings(env={"NEWSDELTA_HOME": home, "NEWSDELTA_DATABASE_URL": database_url}).with_overrides(
        allow_hosts=("127.0.0.1",), per_host_delay_s=0.0)
    engine = make_engine(database_url)
    with Fetcher(settings) as fetcher:
        results = run(engine, fetcher, settings, [FeedConfig(url, outlet=f"outlet{i}") for i, url in enumerate(feeds)])
    print(" ".join(r.status for r in results))


if __name__ == "__main__":
    main()
