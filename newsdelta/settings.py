"""All configuration in one place: defaults, then the TOML config file, then the environment.

Secrets (Slack webhook URL, SMTP password) are accepted only from the environment or a
Prefect Secret block, never from the config file, and are never part of `describe()`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from newsdelta.errors import ConfigError

SECRET_KEYS = {"slack_webhook_url", "smtp_password", "webhook_url", "password"}


@dataclass(frozen=True)
class FeedConfig:
    url: str
    outlet: str = ""
    interval_minutes: float = 15.0


@dataclass(frozen=True)
class Setting:
    """A documented setting: name, default, help (tests fail when one is undocumented)."""

    name: str
    env: str | None
    help: str


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    config_path: Path | None = None
    feeds: tuple[FeedConfig, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    user_agent: str = "newsdelta/0.1 (+https://github.com/newsdelta/newsdelta)"
    timeout_s: float = 20.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    per_host_delay_s: float = 1.0
    concurrency: int = 8
    articles_per_run: int = 500  # the rest are due again on the next run
    match_window_days: float = 7.0
    semantic: bool = False  # sentence embeddings for ambiguous sentences (extra `semantic`)
    recheck_first_minutes: float = 30.0
    recheck_for_days: float = 14.0
    # Alerts. Secrets come from the environment (or Prefect Secret blocks named below).
    slack_webhook_url: str | None = field(default=None, repr=False)
    slack_secret_block: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_secret_block: str | None = None
    smtp_tls: str = "starttls"  # starttls | ssl | none
    smtp_timeout_s: float = 30.0
    email_from: str | None = None
    email_to: tuple[str, ...] = ()
    templates_dir: Path | None = None
    digest_minutes: dict[str, float] = field(default_factory=dict)  # channel -> period; absent = one message per finding
    console_alerts: bool | None = None  # None: only when no other channel is configured

    @property
    def alert_channels(self) -> list[str]:
        channels = []
        if self.slack_webhook_url or self.slack_secret_block:
            channels.append("slack")
        if self.smtp_host and self.email_to:
            channels.append("email")
        if self.console_alerts or (self.console_alerts is None and not channels):
            channels.append("console")
        return channels

    def with_overrides(self, **changes: Any) -> "Settings":
        return replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        """Settings safe to print or log: secrets shown only as set / not set."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_KEYS:
                out[f.name] = "(set)" if value else "(not set)"
            elif f.name == "database_url":
                out[f.name] = _redact_db_url(value)
            else:
                out[f.name] = value
        return out


SETTINGS_DOC: tuple[Setting, ...] = (
    Setting("home", "NEWSDELTA_HOME", "Data directory (SQLite database, logs). Default: a per-user directory."),
    Setting("database_url", "NEWSDELTA_DATABASE_URL", "Any SQLAlchemy URL. Default: a SQLite file in the data directory."),
    Setting("config_path", "NEWSDELTA_CONFIG", "Path of the TOML config file. Default: config.toml in the data directory, if present."),
    Setting("allow_hosts", "NEWSDELTA_ALLOW_HOSTS", "Comma-separated hosts or CIDRs that may be fetched although private or loopback."),
    Setting("feeds", None, "[[feeds]] tables: url, outlet, interval_minutes."),
    Setting("user_agent", None, "User-Agent sent with every request."),
    Setting("timeout_s", None, "Timeout for one HTTP request, seconds."),
    Setting("max_bytes", None, "Largest response body accepted (after decompression), bytes."),
    Setting("max_redirects", None, "Redirects followed before giving up."),
    Setting("per_host_delay_s", "NEWSDELTA_PER_HOST_DELAY_S", "Minimum seconds between two requests to the same host."),
    Setting("concurrency", "NEWSDELTA_CONCURRENCY", "Articles fetched and processed at once."),
    Setting("articles_per_run", None, "Most articles one ingest run fetches; the others wait for the next run (oldest first)."),
    Setting("match_window_days", None, "How far back a new article looks for a story to join."),
    Setting("semantic", "NEWSDELTA_SEMANTIC", "true: let sentence embeddings decide sentences the words leave ambiguous (needs the 'semantic' extra)."),
    Setting("recheck_first_minutes", None, "First re-fetch of an article after this long; the interval doubles each time."),
    Setting("recheck_for_days", None, "Articles older than this are no longer re-fetched."),
    Setting("slack_webhook_url", "NEWSDELTA_SLACK_WEBHOOK_URL", "Slack incoming webhook URL (secret: environment only)."),
    Setting("slack_secret_block", None, "Name of a Prefect Secret block holding the Slack webhook URL."),
    Setting("smtp_host", "NEWSDELTA_SMTP_HOST", "SMTP server for email alerts."),
    Setting("smtp_port", "NEWSDELTA_SMTP_PORT", "SMTP port."),
    Setting("smtp_user", "NEWSDELTA_SMTP_USER", "SMTP login user (optional)."),
    Setting("smtp_password", "NEWSDELTA_SMTP_PASSWORD", "SMTP password (secret: environment only)."),
    Setting("smtp_secret_block", None, "Name of a Prefect Secret block holding the SMTP password."),
    Setting("smtp_tls", "NEWSDELTA_SMTP_TLS", "starttls, ssl or none."),
    Setting("smtp_timeout_s", None, "Timeout for one SMTP conversation, seconds."),
    Setting("email_from", "NEWSDELTA_EMAIL_FROM", "Sender address of alert emails."),
    Setting("email_to", "NEWSDELTA_EMAIL_TO", "Comma-separated recipients of alert emails."),
    Setting("templates_dir", "NEWSDELTA_TEMPLATES_DIR", "Directory with Jinja2 templates overriding the defaults (slack.json.j2, email.txt.j2, email.html.j2, console.txt.j2)."),
    Setting("digest_minutes", None, "[alerts.digest] channel = minutes: send one summary per period instead of one message per finding."),
    Setting("console_alerts", None, "Print alerts to the console too (default: only when no other channel is configured)."),
)

_ENV_CASTS: dict[str, Any] = {
    "NEWSDELTA_PER_HOST_DELAY_S": ("per_host_delay_s", float),
    "NEWSDELTA_CONCURRENCY": ("concurrency", int),
    "NEWSDELTA_SEMANTIC": ("semantic", lambda v: _flag(v)),
    "NEWSDELTA_SLACK_WEBHOOK_URL": ("slack_webhook_url", str),
    "NEWSDELTA_SMTP_HOST": ("smtp_host", str),
    "NEWSDELTA_SMTP_PORT": ("smtp_port", int),
    "NEWSDELTA_SMTP_USER": ("smtp_user", str),
    "NEWSDELTA_SMTP_PASSWORD": ("smtp_password", str),
    "NEWSDELTA_SMTP_TLS": ("smtp_tls", str),
    "NEWSDELTA_EMAIL_FROM": ("email_from", str),
    "NEWSDELTA_EMAIL_TO": ("email_to", lambda v: _split(v)),
    "NEWSDELTA_TEMPLATES_DIR": ("templates_dir", Path),
}


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "newsdelta"


def load_settings(config: str | Path | None = None, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    env = os.environ if env is None else env
    home = Path(env.get("NEWSDELTA_HOME") or overrides.pop("home", None) or default_home()).expanduser()
    config_path = Path(config or env.get("NEWSDELTA_CONFIG") or home / "config.toml").expanduser()
    explicit = bool(config or env.get("NEWSDELTA_CONFIG"))
    values: dict[str, Any] = {}
    if config_path.exists():
        values = _read_config(config_path)
    elif explicit:
        raise ConfigError(f"config file {config_path} does not exist")
    else:
        config_path = None  # type: ignore[assignment]

    for var, (name, cast) in _ENV_CASTS.items():
        if env.get(var):
            try:
                values[name] = cast(env[var])
            except ValueError as exc:
                raise ConfigError(f"{var}: {exc}") from None
    allow = _split(env.get("NEWSDELTA_ALLOW_HOSTS", "")) + tuple(values.pop("allow_hosts", ()))
    values.update(overrides)
    database_url = env.get("NEWSDELTA_DATABASE_URL") or values.pop("database_url", None) or f"sqlite:///{home / 'newsdelta.db'}"
    values.pop("database_url", None)
    settings = Settings(home=home, database_url=database_url, config_path=config_path, allow_hosts=allow, **values)
    _validate(settings)
    return settings


def _read_config(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    values: dict[str, Any] = {}
    general = dict(raw.get("newsdelta", {}))
    alerts = dict(raw.get("alerts", {}))
    for section in (general, alerts.get("slack", {}), alerts.get("email", {})):
        leaked = SECRET_KEYS & set(section)
        if leaked:
            raise ConfigError(
                f"{path}: secrets ({', '.join(sorted(leaked))}) are not read from the config file; "
                "set NEWSDELTA_SLACK_WEBHOOK_URL / NEWSDELTA_SMTP_PASSWORD or name a Prefect Secret block"
            )
    known = {f.name for f in fields(Settings)}
    for key, value in general.items():
        if key not in known or key in ("home", "config_path", "feeds"):
            raise ConfigError(f"{path}: unknown setting [newsdelta] {key}")
        values[key] = tuple(value) if isinstance(value, list) else value
    if "templates_dir" in values:
        values["templates_dir"] = (path.parent / values["templates_dir"]).resolve()
    slack, email = alerts.get("slack", {}), alerts.get("email", {})
    if "secret_block" in slack:
        values["slack_secret_block"] = slack["secret_block"]
    for key in ("host", "port", "user", "tls", "timeout_s"):
        if key in email:
            values[f"smtp_{key}"] = email[key]
    if "secret_block" in email:
        values["smtp_secret_block"] = email["secret_block"]
    if "from" in email:
        values["email_from"] = email["from"]
    if "to" in email:
        values["email_to"] = tuple(email["to"]) if isinstance(email["to"], list) else _split(email["to"])
    if "digest" in alerts:
        values["digest_minutes"] = {str(k): float(v) for k, v in alerts["digest"].items()}
    if "console" in alerts:
        values["console_alerts"] = bool(alerts["console"])
    feeds = []
    for i, item in enumerate(raw.get("feeds", [])):
        if not isinstance(item, dict) or not item.get("url"):
            raise ConfigError(f"{path}: feeds[{i}] needs a url")
        feeds.append(FeedConfig(url=str(item["url"]), outlet=str(item.get("outlet", "")), interval_minutes=float(item.get("interval_minutes", 15))))
    values["feeds"] = tuple(feeds)
    return values


def _validate(s: Settings) -> None:
    if s.smtp_tls not in ("starttls", "ssl", "none"):
        raise ConfigError(f"smtp_tls must be starttls, ssl or none, not {s.smtp_tls!r}")
    if s.max_bytes <= 0 or s.timeout_s <= 0 or s.concurrency <= 0 or s.articles_per_run <= 0:
        raise ConfigError("max_bytes, timeout_s, concurrency and articles_per_run must be positive")
    for feed in s.feeds:
        if not feed.url.startswith(("http://", "https://")):
            raise ConfigError(f"feed url must be http(s): {feed.url}")
    if s.semantic:
        from textdelta import semantic

        if not semantic.available():
            raise ConfigError(f"semantic = true needs the semantic extra: {semantic.INSTALL_HINT}")


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _redact_db_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database url>"
