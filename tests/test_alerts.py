"""Alerts: a real SMTP server (aiosmtpd) and a real HTTP server standing in for Slack."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from sqlmodel import Session, select

from newsdelta.alerts import outbox
from newsdelta.alerts.message import build_message
from newsdelta.alerts.outbox import STALE_AFTER, claim
from newsdelta.alerts.render import environment, render_slack, slack_escape
from newsdelta.seeds.server import SiteServer
from newsdelta.settings import FeedConfig, Settings
from newsdelta.stages.deliver import deliver_all as deliver_pending
from newsdelta.storage import repo
from newsdelta.storage.models import Alert, Finding, utcnow
from tests.builders import run
from tests.httpserver import Reply, ScriptedServer

SIGNAL = "Signal Chat Controversy Overshadows Trip"
HOOK = "/services/T000/B000/secret-token-xyz"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list = []
        self.authenticated: list[bool] = []  # per message: whether its session had logged in
        self.lock = threading.Lock()
        self.port = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.envelopes.append(envelope)
            self.authenticated.append(bool(session.authenticated))
            self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 Message accepted for delivery"


class SMTPServer:
    """aiosmtpd's SMTP protocol served on a socket bound to port 0, kept bound from the start:
    the port is the one the OS gave, never one probed free and bound again later (aiosmtpd's
    Controller takes only a port number, which it binds itself)."""

    def __init__(self, handler: Inbox, **options: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = handler.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.factory = lambda: SMTP(handler, hostname="127.0.0.1", **options)

    def __enter__(self) -> SMTPServer:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self.loop.create_server(self.factory, sock=self.sock), self.loop).result(60)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(60)
        self.loop.close()


def password_check(logins: list[tuple[str, str]], password: bytes = b"right-password"):  # type: ignore[no-untyped-def]
    """An aiosmtpd authenticator that records every login and accepts only `password`."""

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == password, handled=False)  # aiosmtpd sends the 235/535

    return authenticator


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    inbox = Inbox()
    with SMTPServer(inbox):
        yield inbox


class WorkerDied(Exception):
    """Stands for the process dying: raised where it would have died."""


def crash_before_marking_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker sends an alert, then dies before it marks the row sent."""

    def die(*_: object) -> None:
        raise WorkerDied("killed between send and mark")

    monkeypatch.setattr(outbox, "mark_sent", die)


def make_claims_stale(engine) -> None:  # type: ignore[no-untyped-def]
    """Time passes: every claim is older than STALE_AFTER, as a dead worker's claim becomes."""
    with Session(engine) as session:
        for alert in session.exec(select(Alert).where(Alert.claimed_at.is_not(None))):  # type: ignore[union-attr]
            alert.claimed_at = utcnow() - STALE_AFTER - timedelta(seconds=1)
            session.add(alert)
        session.commit()


@pytest.fixture
def slack(server: ScriptedServer) -> ScriptedServer:
    server.route(HOOK, Reply(200, b"ok", {"Content-Type": "text/plain"}))
    return server


def configured(settings: Settings, slack: ScriptedServer | None, smtp: Inbox | None) -> Settings:
    values: dict = {"console_alerts": False}
    if slack is not None:
        values["slack_webhook_url"] = slack.url(HOOK)
    if smtp is not None:
        values.update(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls="none", email_from="alerts@newsroom.test", email_to=("desk@newsroom.test", "editor@newsroom.test"))
    return settings.with_overrides(**values)


def seed_finding(engine, fetcher, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    with SiteServer() as site:
        feeds = [FeedConfig(site.url("harbor-times/feed.xml"), "Harbor Times"), FeedConfig(site.url("meridian-post/feed.xml"), "Meridian Post")]
        run(engine, fetcher, settings, feeds, channels=tuple(settings.alert_channels))


def plant_in_finding(engine, paragraph: str, heading: str | None = None) -> Finding:  # type: ignore[no-untyped-def]
    """Put hostile text into the stored finding, as if an article had carried it."""
    with Session(engine) as session:
        finding = session.exec(select(Finding)).one()
        sections = json.loads(finding.new_sections)
        sections[0]["paragraphs"][0] = paragraph
        if heading is not None:
            sections[0]["heading"] = heading
        finding.new_sections = json.dumps(sections)
        session.add(finding)
        session.commit()
        session.refresh(finding)
        return finding


def slack_posts(server: ScriptedServer) -> list[dict]:
    return [json.loads(r.body) for r in server.hits(HOOK)]


def no_sleep(_: float) -> None:
    pass


# --- Slack --------------------------------------------------------------------------------

def test_slack_message_names_story_outlets_score_and_quotes_the_new_section(engine, fetcher, settings, slack) -> None:
    s = configured(settings, slack, None)
    seed_finding(engine, fetcher, s)
    report = deliver_pending(engine, s)
    assert len(report.sent) == 1 and not report.failed
    [payload] = slack_posts(slack)
    text = json.dumps(payload, ensure_ascii=False)
    assert payload["text"].startswith("New section in story:") and SIGNAL in payload["text"]
    assert payload["blocks"][0]["type"] == "header"
    assert "Meridian Post" in text and "Harbor Times" in text and "Match score 0." in text
    assert f"*{SIGNAL}*" in text and "> China’s foreign ministry has not yet issued a statement" in text
    assert "2025-03-31 06:40 UTC" in text and "2025-03-30 08:15 UTC" in text, "when each was published"


def test_slack_escapes_untrusted_article_text() -> None:
    hostile = "Hi <!channel> <@U123> <https://evil.example|click here> *bold* & more"
    escaped = slack_escape(hostile)
    assert "<" not in escaped and ">" not in escaped
    assert "&lt;!channel&gt;" in escaped and "&lt;@U123&gt;" in escaped and "&amp; more" in escaped
    assert "*bold*" not in escaped


def test_hostile_article_cannot_ping_or_forge_links_in_slack(engine, fetcher, settings, slack) -> None:
    s = configured(settings, slack, None)
    seed_finding(engine, fetcher, s)
    # A sentence that states something, so that the alert quotes it (fragments stay on the story page).
    finding = plant_in_finding(engine, "Protesters wrote <!channel> read <https://evil.example|this> now <@U999> on the council's page.",
                               heading="<!here> *urgent*")
    with Session(engine) as session:
        message = build_message(session, finding)
    rendered = json.dumps(render_slack(environment(), message))
    assert "<!channel>" not in rendered and "<!here>" not in rendered and "<@U999>" not in rendered and "<https://evil" not in rendered
    assert "&lt;!channel&gt;" in rendered


def test_slack_500_then_ok_is_retried_and_sent_once(engine, fetcher, settings, slack) -> None:
    slack.route(HOOK, [Reply(500, b"err"), Reply(200, b"ok")])
    s = configured(settings, slack, None)
    seed_finding(engine, fetcher, s)
    report = deliver_pending(engine, s, sleep=no_sleep)
    assert len(report.sent) == 1 and len(slack.hits(HOOK)) == 2


def test_slack_429_retry_after_is_honoured(engine, fetcher, settings, slack) -> None:
    slack.route(HOOK, [Reply(429, b"rate_limited", {"Retry-After": "7"}), Reply(200, b"ok")])
    s = configured(settings, slack, None)
    seed_finding(engine, fetcher, s)
    waited: list[float] = []
    report = deliver_pending(engine, s, sleep=waited.append)
    assert waited == [7.0] and len(report.sent) == 1


def test_slack_long_retry_after_defers_the_alert(engine, fetcher, settings, slack) -> None:
    slack.route(HOOK, Reply(429, b"rate_limited", {"Retry-After": "900"}))
    s = configured(settings, slack, None)
    seed_finding(engine, fetcher, s)
    asked_at = utcnow()
    report = deliver_pending(engine, s, sleep=no_sleep)
    assert report.failed and not report.sent
    with Session(engine) as session:
        alert = session.exec(select(Alert)).one()
    assert alert.status == "failed" and alert.next_attempt_at >= asked_at + timedelta(seconds=900), "not before Retry-After"
    assert deliver_pending(engine, s, sleep=no_sleep).sent == [], "not before Retry-After"


def test_hanging_webhook_fails_cleanly_and_is_delivered_later_exactly_once(engine, fetcher, settings, slack) -> None:
    slack.route(HOOK, [Reply(200, b"ok", delay_s=120), Reply(200, b"ok")])  # the first hangs until the test ends
    s = configured(settings, slack, None).with_overrides(timeout_s=0.5)
    seed_finding(engine, fetcher, s)
    first = deliver_pending(engine, s, sleep=no_sleep)
    assert not first.sent and "timed out" in next(iter(first.failed.values()))
    second = deliver_pending(engine, s, force=True, sleep=no_sleep)
    assert len(second.sent) == 1
    assert deliver_pending(engine, s, force=True, sleep=no_sleep).sent == []


def test_secret_webhook_url_never_appears_in_errors_or_the_database(engine, fetcher, settings, slack) -> None:
    slack.route(HOOK, Reply(404, b"no_service"))
    s = configured(settings, slack, None)
    seed_finding(engine, fetcher, s)
    report = deliver_pending(engine, s, sleep=no_sleep)
    error = next(iter(report.failed.values()))
    assert "HTTP 404" in error and "secret-token-xyz" not in error
    db_bytes = Path(s.database_url.removeprefix("sqlite:///")).read_bytes()
    assert b"secret-token-xyz" not in db_bytes
    assert "secret-token-xyz" not in json.dumps(s.describe(), default=str)


# --- email --------------------------------------------------------------------------------

def test_email_is_multipart_with_subject_naming_story_and_outlet(engine, fetcher, settings, smtp) -> None:
    s = configured(settings, None, smtp)
    seed_finding(engine, fetcher, s)
    assert len(deliver_pending(engine, s).sent) == 1
    [msg] = smtp.messages
    assert msg["Subject"] == ('New section in story: "Hegseth announces plan for US command upgrades in Japan to deter China" '
                              f'— Meridian Post adds "{SIGNAL}"')
    assert msg["From"] == "alerts@newsroom.test" and msg["To"] == "desk@newsroom.test, editor@newsroom.test"
    assert sorted(smtp.envelopes[0].rcpt_tos) == ["desk@newsroom.test", "editor@newsroom.test"]
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (plain, html):
        assert SIGNAL in part and "Harbor Times" in part and "Meridian Post" in part
        assert "foreign ministry has not yet issued a statement" in part


def test_email_html_escapes_article_markup(engine, fetcher, settings, smtp) -> None:
    s = configured(settings, None, smtp)
    seed_finding(engine, fetcher, s)
    plant_in_finding(engine, 'Protesters posted <script>alert(1)</script><a href="https://evil.example">x</a> on the council\'s page.')
    deliver_pending(engine, s)
    html = smtp.messages[0].get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and 'href="https://evil.example"' not in html


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # a plain local test server
def test_email_login_and_resend_keeps_the_message_id(engine, fetcher, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A server that takes mail only after AUTH; the first delivery dies between the send and
    marking the row sent, so the alert is sent again: with the same Message-ID."""
    inbox, logins = Inbox(), []
    with SMTPServer(inbox, authenticator=password_check(logins), auth_required=True, auth_require_tls=False):
        s = settings.with_overrides(console_alerts=False, smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_tls="none",
                                    smtp_user="alerts", smtp_password="right-password", email_from="alerts@newsroom.test",
                                    email_to=("desk@newsroom.test",))
        seed_finding(engine, fetcher, s)
        with monkeypatch.context() as patch:
            crash_before_marking_sent(patch)
            with pytest.raises(WorkerDied):
                deliver_pending(engine, s)
        assert len(inbox.messages) == 1, "the first delivery reached the server"
        assert deliver_pending(engine, s).sent == [], "the dead worker's claim is still fresh"
        make_claims_stale(engine)
        resent = deliver_pending(engine, s)
    assert len(resent.sent) == 1 and len(inbox.messages) == 2
    assert logins == [("alerts", "right-password")] * 2, "each delivery logged in"
    assert inbox.authenticated == [True, True]
    with Session(engine) as session:
        alert = session.exec(select(Alert)).one()
    first, second = (m["Message-ID"] for m in inbox.messages)
    assert first == second == f"<{alert.dedup_key}@newsdelta.invalid>"
    assert alert.status == "sent"


# --- delivery guarantees ------------------------------------------------------------------

def test_failing_channel_does_not_block_the_other_and_is_visible(engine, fetcher, settings, slack, smtp) -> None:
    slack.route(HOOK, Reply(500, b"down"))
    s = configured(settings, slack, smtp)
    seed_finding(engine, fetcher, s)
    report = deliver_pending(engine, s, sleep=no_sleep)
    assert len(report.sent) == 1 and len(report.failed) == 1 and len(smtp.messages) == 1
    from newsdelta.views import alerts_view

    by_channel = {a["channel"]: a for a in alerts_view(engine)}
    assert by_channel["email"]["status"] == "sent"
    assert by_channel["slack"]["status"] == "failed" and "HTTP 500" in by_channel["slack"]["last_error"]
    slack.route(HOOK, Reply(200, b"ok"))
    retried = deliver_pending(engine, s, force=True, sleep=no_sleep)
    assert len(retried.sent) == 1 and len(smtp.messages) == 1, "email is not sent again"


def test_crash_between_send_and_mark_resends_only_after_the_claim_goes_stale(engine, fetcher, settings, slack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    s = configured(settings, slack, None)
    seed_finding(engine, fetcher, s)
    with monkeypatch.context() as patch:
        crash_before_marking_sent(patch)
        with pytest.raises(WorkerDied):
            deliver_pending(engine, s)
    assert len(slack_posts(slack)) == 1, "Slack has the message; the row does not say so"
    assert deliver_pending(engine, s).sent == [], "a fresh claim is someone else's"
    assert len(slack_posts(slack)) == 1
    make_claims_stale(engine)
    with Session(engine) as session:
        alert_id = session.exec(select(Alert)).one().id
    assert deliver_pending(engine, s).sent == [alert_id]
    first, second = slack_posts(slack)
    assert first == second, "at least once: the same message again"
    assert deliver_pending(engine, s, force=True).sent == [], "and not a third time"


def test_a_claim_whose_worker_died_before_sending_is_taken_again_once_stale(engine, fetcher, settings, slack) -> None:  # type: ignore[no-untyped-def]
    s = configured(settings, slack, None)
    seed_finding(engine, fetcher, s)
    [alert_id] = claim(engine, "slack")  # claimed, then the worker dies before sending or marking
    assert deliver_pending(engine, s).sent == [], "a fresh claim is someone else's"
    make_claims_stale(engine)
    assert deliver_pending(engine, s).sent == [alert_id]
    assert len(slack_posts(slack)) == 1


def test_same_material_twice_is_alerted_once(engine, fetcher, settings, slack) -> None:
    s = configured(settings, slack, None)
    seed_finding(engine, fetcher, s)
    with Session(engine) as session:
        finding = session.exec(select(Finding)).one()
        alert = session.exec(select(Alert)).one()
        assert repo.enqueue_alerts(session, finding, ["slack"], alert.dedup_key) == []
        duplicate = repo.add_finding(session, story_id=finding.story_id, article_id=finding.article_id, version_id=finding.version_id,
                                     new_sections=finding.new_sections, new_sentences=finding.new_sentences, content_key=finding.content_key)
        assert duplicate is None
    deliver_pending(engine, s)
    deliver_pending(engine, s, force=True)
    assert len(slack_posts(slack)) == 1


def test_digest_channel_sends_one_summary(engine, fetcher, settings, slack) -> None:
    s = configured(settings, slack, None).with_overrides(digest_minutes={"slack": 60})
    seed_finding(engine, fetcher, s)
    assert len(deliver_pending(engine, s).sent) == 1
    [payload] = slack_posts(slack)
    assert "1 findings" in json.dumps(payload)


# --- end to end ---------------------------------------------------------------------------

@pytest.mark.prefect
def test_demo_with_both_channels_sends_one_slack_message_and_one_email_and_a_rerun_nothing(prefect_server, tmp_path, slack, smtp, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from newsdelta.cli import app

    monkeypatch.setenv("NEWSDELTA_SLACK_WEBHOOK_URL", slack.url(HOOK))
    for key, value in {"NEWSDELTA_SMTP_HOST": "127.0.0.1", "NEWSDELTA_SMTP_PORT": str(smtp.port), "NEWSDELTA_SMTP_TLS": "none",
                       "NEWSDELTA_EMAIL_FROM": "alerts@newsroom.test", "NEWSDELTA_EMAIL_TO": "desk@newsroom.test"}.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path / "demo")])
        assert result.exit_code == 0, result.output
        assert "secret-token-xyz" not in result.output
    assert len(slack_posts(slack)) == 1 and len(smtp.messages) == 1
    assert SIGNAL in slack_posts(slack)[0]["text"] and SIGNAL in smtp.messages[0]["Subject"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # a plain local test server
def test_email_login_is_used_and_a_refused_password_is_reported_without_the_password(engine, fetcher, settings) -> None:  # type: ignore[no-untyped-def]
    inbox, logins = Inbox(), []
    with SMTPServer(inbox, authenticator=password_check(logins), auth_required=True, auth_require_tls=False):
        base = settings.with_overrides(console_alerts=False, smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_tls="none",
                                       smtp_user="alerts", email_to=("desk@newsroom.test",))
        seed_finding(engine, fetcher, base)
        wrong = deliver_pending(engine, base.with_overrides(smtp_password="wrong-password"))
        error = next(iter(wrong.failed.values()))
        assert "login refused (535)" in error and "wrong-password" not in error
        assert inbox.messages == []
        right = deliver_pending(engine, base.with_overrides(smtp_password="right-password"), force=True)
    assert len(right.sent) == 1 and len(inbox.messages) == 1 and inbox.authenticated == [True]
    assert logins[-1] == ("alerts", "right-password")
    assert logins[:-1] and set(logins[:-1]) == {("alerts", "wrong-password")}  # smtplib tries each offered mechanism


def test_templates_can_be_overridden_per_channel(engine, fetcher, settings, slack, tmp_path) -> None:
    (tmp_path / "slack.json.j2").write_text('{"text": {{ ("Desk: " ~ (m.story_title | slack)) | json }}, "blocks": []}')
    s = configured(settings, slack, None).with_overrides(templates_dir=tmp_path)
    seed_finding(engine, fetcher, s)
    deliver_pending(engine, s)
    assert slack_posts(slack) == [{"text": "Desk: Hegseth announces plan for US command upgrades in Japan to deter China", "blocks": []}]
