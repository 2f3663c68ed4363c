"""The offline demo: the two founding articles served as two outlets on 127.0.0.1, ingested
through the same HTTP path and flow as real feeds."""

from __future__ import annotations

import os
from pathlib import Path

from newsdelta.seeds.build import OUTLETS
from newsdelta.seeds.server import SiteServer

PORT_FILE = "demo-port"


def write_demo_config(data_dir: Path, base: str) -> Path:
    feeds = "\n".join(
        f'[[feeds]]\nurl = "{base}/{o.slug}/feed.xml"\noutlet = "{o.name}"\ninterval_minutes = 15\n' for o in OUTLETS
    )
    config = data_dir / "demo.toml"
    config.write_text(
        "# Written by `newsdelta demo`: the seed outlets, served on this machine for the run.\n"
        "[newsdelta]\n"
        'allow_hosts = ["127.0.0.1"]  # the demo server; everything else private stays refused\n'
        "per_host_delay_s = 0.0\n\n"
        "[alerts]\nconsole = true\n\n" + feeds,
        "utf-8",
    )
    return config


def saved_port(data_dir: Path) -> int:
    """The previous run's port, so article URLs (and thus stored state) stay the same."""
    path = data_dir / PORT_FILE
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def prepare_environment(data_dir: Path) -> None:
    """The demo always runs on its own SQLite file and config; alert channels from the
    environment (NEWSDELTA_SLACK_WEBHOOK_URL, NEWSDELTA_SMTP_*) still apply."""
    os.environ["NEWSDELTA_HOME"] = str(data_dir)
    for var in ("NEWSDELTA_DATABASE_URL", "NEWSDELTA_CONFIG"):
        os.environ.pop(var, None)


def start_site(data_dir: Path) -> SiteServer:
    try:
        site = SiteServer(port=saved_port(data_dir))
    except OSError:  # the old port is taken by something else: URLs change, state is kept
        site = SiteServer()
    (data_dir / PORT_FILE).write_text(str(site.httpd.server_address[1]))
    return site
