"""Keep secrets out of logs. Libraries log what they do (httpx logs every request URL at INFO,
and a Slack webhook's token is in its path), so the secrets a channel holds are registered
here and masked in any record passing the loggers that could carry them."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit, urlunsplit

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
MASK = "***"
WATCHED_LOGGERS = ("httpx", "httpcore", "prefect", "newsdelta", "smtplib")


def register_secret(value: str | None) -> None:
    if value and len(value) >= 6:
        with _LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


def install() -> None:
    for name in WATCHED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


def redact_url(url: str) -> str:
    """The URL without credentials or query string: safe to log (webhook tokens live in paths
    for some services, so for those the caller must not log the URL at all)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


install()
