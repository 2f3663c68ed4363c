"""One home for errors, so callers catch `NewsdeltaError` and know what they get.

Messages never carry secrets: URLs are passed through `redact_url` before they are shown.
"""

from __future__ import annotations

from newsdelta.redact import redact_url


class NewsdeltaError(Exception):
    """Base of every error newsdelta raises on purpose."""


class ConfigError(NewsdeltaError):
    """The configuration file or environment is invalid."""


class CannotOpenDatabase(NewsdeltaError):
    """The configured database cannot be reached or created: it does not exist, the server
    refuses, or the data directory cannot hold it. The message names it without its password."""


class NotFound(NewsdeltaError):
    """A story, article, feed or other stored row that the caller named does not exist."""


class FetchError(NewsdeltaError):
    """An HTTP fetch failed. `retryable` says whether trying again later may help."""

    retryable = True

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        self.url = redact_url(url)
        self.reason = reason
        self.status = status
        super().__init__(f"{reason} ({self.url})")


class BlockedURL(FetchError):
    """Refused before connecting: a non-HTTP scheme or a private, loopback or metadata address."""

    retryable = False


class TooLarge(FetchError):
    retryable = False


class TooManyRedirects(FetchError):
    retryable = False


class UnsupportedContent(FetchError):
    """The response is not a feed or an HTML page (a PDF, an image...)."""

    retryable = False


class HTTPStatusError(FetchError):
    def __init__(self, url: str, status: int) -> None:
        super().__init__(url, f"HTTP {status}", status)
        self.retryable = status >= 500 or status in (408, 425, 429)


class RateLimited(FetchError):
    """The server asked us to wait (429/503 with Retry-After)."""

    def __init__(self, url: str, status: int, retry_after_s: float) -> None:
        super().__init__(url, f"HTTP {status}, retry after {retry_after_s:.0f}s", status)
        self.retry_after_s = retry_after_s


class FetchTimeout(FetchError):
    pass


class ExtractionError(NewsdeltaError):
    """The page yielded no article text."""


class AlertDeliveryError(NewsdeltaError):
    """A channel refused or failed to take an alert. `retry_after_s` is set when it asked us to
    wait; `transient` when trying again at once may succeed (a 5xx from the service)."""

    def __init__(self, channel: str, reason: str, retry_after_s: float | None = None, transient: bool = False) -> None:
        self.channel = channel
        self.retry_after_s = retry_after_s
        self.transient = transient
        super().__init__(f"{channel}: {reason}")
