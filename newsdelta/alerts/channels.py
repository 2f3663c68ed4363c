"""Where alerts go. Each channel takes rendered content and either delivers it or raises
AlertDeliveryError (with `retry_after_s` when the service asked us to wait). Secrets are
used here and nowhere else, and never appear in an error message."""

from __future__ import annotations

import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol, TextIO

import httpx
from jinja2 import Environment

from newsdelta.alerts.message import AlertMessage
from newsdelta.alerts.render import render, render_slack
from newsdelta.errors import AlertDeliveryError, ConfigError
from newsdelta.http_client import parse_retry_after
from newsdelta.redact import register_secret
from newsdelta.settings import Settings


class Channel(Protocol):
    name: str

    def send(self, message: AlertMessage) -> None: ...


class ConsoleChannel:
    name = "console"

    def __init__(self, env: Environment, stream: TextIO | None = None) -> None:
        self.env, self.stream = env, stream

    def send(self, message: AlertMessage) -> None:
        stream = self.stream or sys.stdout
        stream.write(render(self.env, "console.txt.j2", message).rstrip() + "\n\n")
        stream.flush()


class SlackChannel:
    """Incoming webhook. Slack offers no idempotency key, so delivery is at-least-once: the
    row is marked sent right after Slack answers 200 (README, "Delivery guarantees")."""

    name = "slack"

    def __init__(self, env: Environment, webhook_url: str, timeout_s: float = 20.0) -> None:
        self.env, self._url, self.timeout_s = env, webhook_url, timeout_s
        register_secret(webhook_url)
        register_secret(httpx.URL(webhook_url).path if webhook_url.startswith("http") else None)

    def send(self, message: AlertMessage) -> None:
        payload = render_slack(self.env, message)
        try:
            response = httpx.post(self._url, json=payload, timeout=self.timeout_s, follow_redirects=False, trust_env=False)
        except httpx.TimeoutException:
            raise AlertDeliveryError(self.name, f"webhook timed out after {self.timeout_s:.0f}s") from None
        except httpx.HTTPError as exc:
            raise AlertDeliveryError(self.name, f"webhook unreachable ({type(exc).__name__})") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise AlertDeliveryError(self.name, f"webhook answered HTTP {response.status_code}",
                                     retry_after_s=parse_retry_after(response.headers.get("retry-after")),
                                     transient=response.status_code >= 500)
        if response.status_code != 200:
            # 4xx other than 429: the webhook was revoked or the payload refused; say which, not the URL.
            raise AlertDeliveryError(self.name, f"webhook answered HTTP {response.status_code}: {response.text[:200]}")


class EmailChannel:
    """SMTP with STARTTLS, implicit TLS or none. TLS always verifies the server's certificate
    and name, against the system's CAs plus `smtp_ca_file` when set. The Message-ID is derived
    from the alert's dedup key, so a resend after a crash carries the same Message-ID and mail
    systems that deduplicate on it show one message."""

    name = "email"

    def __init__(self, env: Environment, settings: Settings, password: str | None) -> None:
        if not settings.smtp_host or not settings.email_to:
            raise ConfigError("email alerts need NEWSDELTA_SMTP_HOST and NEWSDELTA_EMAIL_TO")
        self.env, self.settings, self._password = env, settings, password
        register_secret(password)
        self._tls = _tls_context(settings.smtp_ca_file) if settings.smtp_tls != "none" else None

    def build(self, message: AlertMessage) -> EmailMessage:
        s = self.settings
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = s.email_from or f"newsdelta@{s.smtp_host}"
        email["To"] = ", ".join(s.email_to)
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = make_msgid(idstring=f"{message.dedup_key[:24]}", domain="newsdelta.invalid") if not message.dedup_key else f"<{message.dedup_key}@newsdelta.invalid>"
        email["X-Newsdelta-Finding"] = str(message.finding_id)
        email.set_content(render(self.env, "email.txt.j2", message))
        email.add_alternative(render(self.env, "email.html.j2", message), subtype="html")
        return email

    def send(self, message: AlertMessage) -> None:
        s = self.settings
        email = self.build(message)
        try:
            if s.smtp_tls == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host or "", s.smtp_port, timeout=s.smtp_timeout_s, context=self._tls)
            else:
                client = smtplib.SMTP(s.smtp_host or "", s.smtp_port, timeout=s.smtp_timeout_s)
            with client:
                if s.smtp_tls == "starttls":
                    client.starttls(context=self._tls)
                if s.smtp_user:
                    client.login(s.smtp_user, self._password or "")
                refused = client.send_message(email)
            if refused:
                raise AlertDeliveryError(self.name, f"recipients refused: {', '.join(sorted(refused))}")
        except smtplib.SMTPAuthenticationError as exc:
            raise AlertDeliveryError(self.name, f"SMTP login refused ({exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            raise AlertDeliveryError(self.name, f"SMTP error {exc.smtp_code}") from None
        except smtplib.SMTPNotSupportedError:
            raise AlertDeliveryError(self.name, f"the SMTP server {s.smtp_host}:{s.smtp_port} does not offer STARTTLS: set "
                                     "NEWSDELTA_SMTP_TLS=ssl if it expects TLS from the start (usually port 465), or "
                                     "NEWSDELTA_SMTP_TLS=none to send without encryption") from None
        except ssl.SSLCertVerificationError as exc:
            raise AlertDeliveryError(self.name, f"the SMTP server's certificate is not trusted ({exc.verify_message}); if your "
                                     "own CA signed it, set NEWSDELTA_SMTP_CA_FILE to that CA's PEM file") from None
        except ssl.SSLError as exc:
            raise AlertDeliveryError(self.name, f"TLS with the SMTP server failed ({exc.reason or type(exc).__name__}): "
                                     "NEWSDELTA_SMTP_TLS=ssl expects TLS from the first byte (usually port 465), "
                                     "starttls a plain connection that is then upgraded (usually 587)") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise AlertDeliveryError(self.name, f"SMTP failed ({type(exc).__name__})") from None


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"NEWSDELTA_SMTP_CA_FILE {ca_file}: not a readable PEM certificate file "
                              f"({getattr(exc, 'strerror', None) or exc})") from None
    return context


def load_secret(block_name: str | None, what: str) -> str | None:
    """A Prefect Secret block's value (`what` it holds, for messages), when the settings name
    one. It comes from the Prefect API (PREFECT_API_URL); a block that is missing, empty or
    unreadable is a configuration error that names the block and never shows a value."""
    if not block_name:
        return None
    from prefect.blocks.system import Secret

    where = f"Prefect Secret block {block_name!r} ({what})"
    try:
        # _sync: the value is needed here and now, also when called from async code
        block = Secret.load(block_name, _sync=True)  # type: ignore[call-arg]
    except ValueError:
        raise ConfigError(f"{where} does not exist on the Prefect server at PREFECT_API_URL; "
                          f"create it there, e.g. Secret(value=...).save({block_name!r})") from None
    except Exception as exc:  # noqa: BLE001 - the API unreachable or refusing, as whichever client error
        raise ConfigError(f"{where} cannot be read ({type(exc).__name__}); is PREFECT_API_URL the server that holds it?") from None
    value = block.get()  # type: ignore[union-attr]  # Prefect types load() as maybe-awaitable; it is sync here
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must hold a non-empty text value")
    register_secret(value)
    return value


def make_channels(settings: Settings, env: Environment, names: list[str] | None = None) -> dict[str, Channel]:
    wanted = names or settings.alert_channels
    channels: dict[str, Channel] = {}
    for name in wanted:
        if name == "console":
            channels[name] = ConsoleChannel(env)
        elif name == "slack":
            url = settings.slack_webhook_url or load_secret(settings.slack_secret_block, "the Slack webhook URL")
            if not url:
                raise ConfigError("slack alerts need NEWSDELTA_SLACK_WEBHOOK_URL or [alerts.slack] secret_block")
            channels[name] = SlackChannel(env, url, settings.timeout_s)
        elif name == "email":
            channels[name] = EmailChannel(env, settings, settings.smtp_password or load_secret(settings.smtp_secret_block, "the SMTP password"))
        else:
            raise ConfigError(f"unknown alert channel {name!r}")
    return channels
