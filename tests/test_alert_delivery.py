"""Alert delivery under the faults a long-running install meets: mail servers speaking TLS
(STARTTLS and implicit, with a certificate from the team's own CA), a server without STARTTLS,
findings too big for one Slack message, secrets kept in Prefect Secret blocks, and a retry
that fails. Real servers throughout: aiosmtpd, a local HTTP server that checks payloads as
Slack does, the session's Prefect test server."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsdelta.alerts.channels import EmailChannel, SlackChannel
from newsdelta.alerts.message import AlertMessage, OutletRef
from newsdelta.alerts.render import environment
from newsdelta.errors import AlertDeliveryError
from newsdelta.settings import Settings
from newsdelta.stages.deliver import deliver_all
from tests.httpserver import Reply, Request, ScriptedServer
from tests.test_alerts import HOOK, Inbox, SMTPServer, password_check, seed_finding, slack_posts
from tests.tls import CertificateAuthority, make_ca

PASSWORD = "right-password"


def message(sections: int = 1, paragraph: str = "The harbour bridge closes for repairs on Monday.",
            title: str = "Harbour bridge to close", story_url: str | None = None) -> AlertMessage:
    article = OutletRef("Harbor Times", "https://harbor.example/bridge", title, datetime(2025, 3, 30, 8, tzinfo=UTC))
    other = OutletRef("Meridian Post", "https://meridian.example/bridge", title, datetime(2025, 3, 30, 7, tzinfo=UTC))
    return AlertMessage(
        finding_id=1, story_id=1, story_title=title, kind="new_article", score=0.81, article=article, compared=[other],
        sections=[{"heading": f"Section {i + 1}", "under_heading": None, "paragraphs": [paragraph] * 3, "truncated": False}
                  for i in range(sections)],
        dedup_key="f00d", story_url=story_url,
    )


# --- SMTP over TLS ------------------------------------------------------------------------

class TLSInbox(Inbox):
    """Also records, per message, whether it came over TLS."""

    def __init__(self) -> None:
        super().__init__()
        self.encrypted: list[bool] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.encrypted.append(server.transport.get_extra_info("ssl_object") is not None)
        return await super().handle_DATA(server, session, envelope)


class ImplicitTLSServer(SMTPServer):
    """aiosmtpd behind TLS from the first byte (SMTPS, as on port 465)."""

    def __init__(self, handler: Inbox, ca: CertificateAuthority, **options: Any) -> None:
        super().__init__(handler, **options)
        self.context = ca.server_context()

    def __enter__(self) -> ImplicitTLSServer:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            self.loop.create_server(self.factory, sock=self.sock, ssl=self.context), self.loop).result(60)
        return self


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return make_ca(tmp_path / "ca", names=("localhost",), addresses=("127.0.0.1",))


def mail_settings(settings: Settings, inbox: Inbox, tls: str, **more: Any) -> Settings:
    return settings.with_overrides(console_alerts=False, smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_tls=tls,
                                   smtp_user="alerts", email_from="alerts@newsroom.test", email_to=("desk@newsroom.test",), **more)


def test_email_over_starttls_trusts_the_configured_ca_and_logs_in_only_when_verified(settings, ca) -> None:  # type: ignore[no-untyped-def]
    inbox, logins = TLSInbox(), []
    with SMTPServer(inbox, tls_context=ca.server_context(), require_starttls=True, authenticator=password_check(logins),
                    auth_required=True):
        unverified = mail_settings(settings, inbox, "starttls")  # the system's CAs only: this server's CA is not among them
        with pytest.raises(AlertDeliveryError, match="certificate is not trusted.*NEWSDELTA_SMTP_CA_FILE"):
            EmailChannel(environment(), unverified, PASSWORD).send(message())
        assert logins == [] and inbox.messages == [], "nothing, the password least, went over an unverified connection"
        EmailChannel(environment(), mail_settings(settings, inbox, "starttls", smtp_ca_file=ca.ca_file), PASSWORD).send(message())
    assert inbox.encrypted == [True] and inbox.authenticated == [True] and logins == [("alerts", PASSWORD)]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # aiosmtpd does not see implicit TLS
def test_email_over_implicit_tls_verifies_the_server(settings, ca) -> None:  # type: ignore[no-untyped-def]
    inbox, logins = TLSInbox(), []
    with ImplicitTLSServer(inbox, ca, authenticator=password_check(logins), auth_required=True, auth_require_tls=False):
        EmailChannel(environment(), mail_settings(settings, inbox, "ssl", smtp_ca_file=ca.ca_file), PASSWORD).send(message())
    assert inbox.encrypted == [True] and logins == [("alerts", PASSWORD)]
    assert inbox.messages[0]["Subject"].startswith('New section in story: "Harbour bridge to close"')


def test_a_server_without_starttls_names_the_setting_that_fixes_it(settings, smtp) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AlertDeliveryError, match="does not offer STARTTLS.*NEWSDELTA_SMTP_TLS=none") as info:
        EmailChannel(environment(), mail_settings(settings, smtp, "starttls"), PASSWORD).send(message())
    assert PASSWORD not in str(info.value) and smtp.messages == []
    with pytest.raises(AlertDeliveryError, match="TLS with the SMTP server failed.*NEWSDELTA_SMTP_TLS=ssl"):
        EmailChannel(environment(), mail_settings(settings, smtp, "ssl"), PASSWORD).send(message())  # TLS to a plain server


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    inbox = Inbox()
    with SMTPServer(inbox):
        yield inbox


# --- Slack's limits -----------------------------------------------------------------------

def slack_refusals(payload: dict[str, Any]) -> list[str]:
    """What Slack's Block Kit reference says it refuses in a message."""
    problems = []
    blocks = payload.get("blocks", [])
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks")
    for b in blocks:
        texts: list[tuple[str, int]] = []
        if b["type"] == "header":
            texts.append((b["text"]["text"], 150))
        elif b["type"] == "section":
            texts += [(b["text"]["text"], 3000)] if "text" in b else []
            texts += [(f["text"], 2000) for f in b.get("fields", [])]
            if len(b.get("fields", [])) > 10:
                problems.append("more than 10 fields")
        elif b["type"] == "context":
            texts += [(e["text"], 3000) for e in b["elements"] if "text" in e]
            if len(b["elements"]) > 10:
                problems.append("more than 10 context elements")
        elif b["type"] == "actions":
            texts += [(e["text"]["text"], 75) for e in b["elements"]]
            texts += [(e["url"], 3000) for e in b["elements"] if "url" in e]
        problems += [f"{b['type']} text of {len(t)} characters" for t, limit in texts if len(t) > limit]
    return problems


def like_slack(request: Request) -> Reply:
    problems = slack_refusals(json.loads(request.body))
    return Reply(400, b"invalid_blocks", {"Content-Type": "text/plain"}) if problems else Reply(200, b"ok", {"Content-Type": "text/plain"})


def test_a_finding_with_twenty_long_sections_fits_in_one_slack_message(server: ScriptedServer) -> None:
    long_paragraph = "Residents &amp; traders said the <closure> would hurt. " * 40  # escaped in Slack: longer still
    big = message(sections=20, paragraph=long_paragraph, title="A" * 300, story_url="https://newsdelta.example/stories/1")
    SlackChannel(environment(), server.route(HOOK, like_slack)).send(big)  # raises on Slack's 400
    [payload] = slack_posts(server)
    assert slack_refusals(payload) == []
    shown = [b for b in payload["blocks"] if b["type"] == "section" and b["text"]["text"].startswith("*Section")]
    closing = payload["blocks"][-1]["elements"][0]["text"]
    assert f"and {20 - len(shown)} more new sections, not shown here" in closing
    assert "<https://newsdelta.example/stories/1|the story page>" in closing
    for block in shown:
        text = block["text"]["text"]
        assert "&lt;closure&gt;" in text and not text.rstrip("…").endswith(("&", "&a", "&am", "&amp", "&l", "&lt"))


def test_a_template_that_makes_too_many_blocks_is_cut_to_fit(server: ScriptedServer, tmp_path: Path) -> None:
    (tmp_path / "slack.json.j2").write_text(
        '{"text": "many", "blocks": [{% for i in range(80) %}{"type": "section", "text": {"type": "mrkdwn", '
        '"text": {{ ("line " ~ i ~ " " ~ ("x" * 4000)) | json }}}}{{ "," if not loop.last }}{% endfor %}]}')
    SlackChannel(environment(tmp_path), server.route(HOOK, like_slack)).send(message())
    [payload] = slack_posts(server)
    assert slack_refusals(payload) == [] and "Shortened to fit" in payload["blocks"][-1]["elements"][0]["text"]


# --- secrets from Prefect Secret blocks ---------------------------------------------------

@pytest.mark.prefect
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # a plain local test server
def test_webhook_and_smtp_password_come_from_prefect_secret_blocks_and_are_never_logged(
        prefect_server, engine, fetcher, settings, server, caplog) -> None:  # type: ignore[no-untyped-def]
    from prefect.blocks.system import Secret

    server.route(HOOK, Reply(200, b"ok"))
    webhook = server.url(HOOK)
    Secret(value=webhook).save("newsdelta-test-slack-webhook", overwrite=True)
    Secret(value=PASSWORD).save("newsdelta-test-smtp-password", overwrite=True)
    inbox, logins = Inbox(), []
    with SMTPServer(inbox, authenticator=password_check(logins), auth_required=True, auth_require_tls=False):
        s = mail_settings(settings, inbox, "none", slack_secret_block="newsdelta-test-slack-webhook",
                          smtp_secret_block="newsdelta-test-smtp-password")
        assert s.slack_webhook_url is None and s.smtp_password is None, "neither secret is in the settings"
        seed_finding(engine, fetcher, s)
        caplog.set_level(logging.DEBUG)  # from here on: the secrets are read and used while delivering
        report = deliver_all(engine, s)
    assert len(report.sent) == 2 and not report.failed
    assert len(slack_posts(server)) == 1 and logins == [("alerts", PASSWORD)]
    exposed = caplog.text + json.dumps(s.describe(), default=str) + repr(s)
    assert "secret-token-xyz" not in exposed and PASSWORD not in exposed


@pytest.mark.prefect
def test_a_missing_secret_block_is_a_one_line_error_naming_it(prefect_server, engine, settings) -> None:  # type: ignore[no-untyped-def]
    from newsdelta.errors import ConfigError

    s = settings.with_overrides(console_alerts=False, slack_secret_block="no-such-block")
    with pytest.raises(ConfigError, match="Prefect Secret block 'no-such-block'") as info:
        deliver_all(engine, s)
    assert "\n" not in str(info.value)


@pytest.mark.prefect
def test_the_delivery_flow_reports_a_missing_secret_block_without_retrying(prefect_server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from flows.deliver import deliver_alerts
    from newsdelta.errors import ConfigError

    config = tmp_path / "config.toml"
    config.write_text('[alerts]\nconsole = false\n[alerts.slack]\nsecret_block = "no-such-block"\n')
    monkeypatch.setenv("NEWSDELTA_HOME", str(tmp_path))
    started = time.monotonic()
    with pytest.raises(ConfigError, match="no-such-block"):
        deliver_alerts(config_path=str(config))
    assert time.monotonic() - started < 10, "the task waited out a retry delay (the first is 10 s)"


# --- alerts --retry -----------------------------------------------------------------------

def test_alerts_retry_exits_non_zero_when_a_delivery_fails(engine, fetcher, settings, server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from newsdelta.cli import app

    server.route(HOOK, Reply(404, b"no_service"))  # a revoked webhook: no point retrying at once
    s = settings.with_overrides(console_alerts=False, slack_webhook_url=server.url(HOOK))
    seed_finding(engine, fetcher, s)
    monkeypatch.setenv("NEWSDELTA_HOME", str(s.home))
    monkeypatch.setenv("NEWSDELTA_SLACK_WEBHOOK_URL", server.url(HOOK))
    monkeypatch.setenv("NEWSDELTA_SEMANTIC", "false")
    failed = CliRunner().invoke(app, ["alerts", "--retry"])
    assert failed.exit_code == 1, failed.output
    assert "0 sent, 1 failed" in failed.output and "HTTP 404" in failed.output
    server.route(HOOK, Reply(200, b"ok"))
    sent = CliRunner().invoke(app, ["alerts", "--retry"])
    assert sent.exit_code == 0 and "1 sent, 0 failed" in sent.output, sent.output
