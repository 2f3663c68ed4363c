"""Protecting the machine newsdelta runs on: feed entries are untrusted links, so the fetcher
refuses non-HTTP schemes and private, loopback, link-local and metadata addresses (after DNS
resolution, and again after every redirect) unless a host is allowed explicitly; and no
secret reaches logs, artifacts, exceptions or the database."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlmodel import Session, select

from newsdelta.errors import BlockedURL
from newsdelta.http_client import Fetcher
from newsdelta.settings import FeedConfig, load_settings
from newsdelta.storage.models import Article
from newsdelta.urls import HostPolicy
from tests.builders import rss, run
from tests.httpserver import Reply

PAGE = b"<html><body><p>hello</p></body></html>"


def test_loopback_is_refused_unless_allowed(server, settings) -> None:
    url = server.route("/p", Reply(200, PAGE))
    with Fetcher(settings.with_overrides(allow_hosts=())) as strict, pytest.raises(BlockedURL):
        strict.get(url, "html")
    assert server.hits("/p") == []
    with Fetcher(settings.with_overrides(allow_hosts=("127.0.0.0/8",))) as cidr:
        assert cidr.get(url, "html").status == 200


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/", "http://192.168.1.1/", "http://[::1]/", "http://localhost/", "http://metadata.google.internal/",
    "http://0.0.0.0/",
])
def test_address_policy_refuses_schemes_and_private_addresses(url: str) -> None:
    with pytest.raises(BlockedURL):
        HostPolicy(()).check(url)


def test_redirect_to_a_private_address_is_refused(server, settings) -> None:
    server.route("/hop", Reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}))
    with Fetcher(settings) as f, pytest.raises(BlockedURL):
        f.get(server.url("/hop"), "html")




def test_host_names_are_checked_after_dns_resolution() -> None:
    with pytest.raises(BlockedURL, match="127.0.0.1|::1"):
        HostPolicy(()).check("http://localhost.localdomain/") if _resolves("localhost.localdomain") else HostPolicy(()).check("http://localhost/")


def _resolves(name: str) -> bool:
    import socket

    try:
        socket.getaddrinfo(name, 80)
        return True
    except OSError:
        return False


def test_allowing_a_host_by_name_does_not_allow_others() -> None:
    policy = HostPolicy(("intranet.example",))
    with pytest.raises(BlockedURL):
        policy.check("http://10.1.2.3/")
    with pytest.raises(BlockedURL):
        policy.check("file:///etc/passwd")


def test_feed_entries_pointing_inward_are_refused_and_recorded(server, engine, settings) -> None:
    """A public-looking feed whose entries point at the metadata service and at file:// URLs."""
    items = [{"title": "meta", "link": "http://169.254.169.254/latest/meta-data/iam"},
             {"title": "admin", "link": "http://10.0.0.7/admin"}]
    feed = server.route("/f.xml", Reply(200, rss("Hostile", items), {"Content-Type": "application/rss+xml"}))
    strict = settings.with_overrides(allow_hosts=("127.0.0.1",))  # the feed host only
    with Fetcher(strict) as fetcher:
        results = run(engine, fetcher, strict, [FeedConfig(feed)])
    assert len(results) == 2 and all(r.status == "failed" and "non-public address" in r.error for r in results)
    with Session(engine) as s:
        assert all(a.status == "failed" for a in s.exec(select(Article)))


def test_allow_hosts_from_the_environment(tmp_path: Path) -> None:
    s = load_settings(env={"NEWSDELTA_HOME": str(tmp_path), "NEWSDELTA_ALLOW_HOSTS": "127.0.0.1, 10.0.0.0/8"})
    assert s.allow_hosts == ("127.0.0.1", "10.0.0.0/8")
    HostPolicy(s.allow_hosts).check("http://10.9.8.7/")
    with pytest.raises(BlockedURL):
        HostPolicy(s.allow_hosts).check("http://192.168.0.1/")


def test_no_secret_in_logs_errors_or_database(server, engine, fetcher, settings, caplog, refused_port) -> None:  # type: ignore[no-untyped-def]
    """Slack webhook and SMTP password configured, both channels failing: the secrets appear
    nowhere a person or another program could read them."""
    from newsdelta.seeds.server import SiteServer
    from newsdelta.stages.deliver import deliver_all as deliver_pending

    webhook_secret, smtp_secret = "T0KEN-in-the-webhook-path", "p4ssw0rd-for-smtp"
    hook = server.route(f"/services/{webhook_secret}", Reply(500, b"down"))
    s = settings.with_overrides(slack_webhook_url=hook, smtp_host="127.0.0.1", smtp_port=refused_port, smtp_user="u",
                                smtp_password=smtp_secret, smtp_tls="none", email_to=("a@b.test",), console_alerts=False)
    caplog.set_level(logging.DEBUG)
    with SiteServer() as site:
        run(engine, fetcher, s, [FeedConfig(site.url("harbor-times/feed.xml"), "A"), FeedConfig(site.url("meridian-post/feed.xml"), "B")],
            channels=tuple(s.alert_channels))
    report = deliver_pending(engine, s, sleep=lambda _: None)
    assert len(report.failed) == 2
    assert any("HTTP 500" in e for e in report.failed.values()) and any("ConnectionRefused" in e for e in report.failed.values())
    exposed = "\n".join([caplog.text, json.dumps(report.failed), json.dumps(s.describe(), default=str), repr(s)])
    exposed += Path(str(engine.url.database)).read_bytes().decode("utf-8", "replace")
    assert webhook_secret not in exposed and smtp_secret not in exposed


def test_secrets_in_the_config_file_are_refused(tmp_path: Path) -> None:
    from newsdelta.errors import ConfigError

    config = tmp_path / "config.toml"
    config.write_text('[alerts.slack]\nwebhook_url = "https://hooks.slack.com/services/X"\n')
    with pytest.raises(ConfigError, match="not read from the config file") as info:
        load_settings(config, env={"NEWSDELTA_HOME": str(tmp_path)})
    assert "hooks.slack.com" not in str(info.value)
