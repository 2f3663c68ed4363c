"""All configuration in one place: defaults, then the TOML config file, then the environment.

Each setting is declared once, as a field of `Settings` with its help text, its environment
variable and its place in the config file; reading the file and the environment, validation,
`newsdelta settings` and the README's table are all driven by those declarations.

Secrets (Slack webhook URL, SMTP password) are accepted only from the environment or a
Prefect Secret block, never from the config file, and are never part of `describe()`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from newsdelta.errors import ConfigError


@dataclass(frozen=True)
class FeedConfig:
    url: str
    outlet: str = ""
    interval_minutes: float = 15.0


def setting(default: Any, help: str, *, env: str | None = None, toml: tuple[str, str] | None = None,
            kind: str = "str", secret: bool = False) -> Any:
    """Declare a setting. `toml`: (table, key) in the config file; `kind`: how a value from the
    file or the environment is read (see _READERS)."""
    metadata = {"help": help, "env": env, "toml": toml, "kind": kind, "secret": secret}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata, repr=not secret)
    return field(default=default, metadata=metadata, repr=not secret)


GENERAL = "newsdelta"


@dataclass(frozen=True)
class Settings:
    home: Path = setting(None, "Data directory (the SQLite database, the demo's state). Default: ~/.local/share/newsdelta.",
                         env="NEWSDELTA_HOME", kind="path")
    database_url: str = setting("", "Any SQLAlchemy URL. Default: the SQLite file newsdelta.db in the data directory. "
                                "PostgreSQL: postgresql+psycopg://user@host/db.",
                                env="NEWSDELTA_DATABASE_URL", toml=(GENERAL, "database_url"), kind="database_url")
    config_path: Path | None = setting(None, "The TOML config file. Default: config.toml in the data directory, if present.",
                                       env="NEWSDELTA_CONFIG", kind="path")
    feeds: tuple[FeedConfig, ...] = setting((), "[[feeds]] tables: url, outlet, interval_minutes.", kind="feeds")
    allow_hosts: tuple[str, ...] = setting((), "Hosts or CIDRs that may be fetched although private or loopback (comma-separated "
                                           "in the environment). Empty by default.",
                                           env="NEWSDELTA_ALLOW_HOSTS", toml=(GENERAL, "allow_hosts"), kind="strs")
    user_agent: str = setting("newsdelta/0.1 (+https://github.com/newsdelta/newsdelta)", "User-Agent sent with every request.",
                              toml=(GENERAL, "user_agent"))
    timeout_s: float = setting(20.0, "Deadline for one HTTP request (all of it, redirects included), seconds.",
                               toml=(GENERAL, "timeout_s"), kind="positive")
    max_bytes: int = setting(10_000_000, "Largest response body accepted (after decompression), bytes.",
                             toml=(GENERAL, "max_bytes"), kind="count")
    max_redirects: int = setting(5, "Redirects followed before giving up.", toml=(GENERAL, "max_redirects"), kind="int")
    per_host_delay_s: float = setting(1.0, "Minimum seconds between two requests to the same host.",
                                      env="NEWSDELTA_PER_HOST_DELAY_S", toml=(GENERAL, "per_host_delay_s"), kind="float")
    concurrency: int = setting(8, "Articles fetched at once.", env="NEWSDELTA_CONCURRENCY", toml=(GENERAL, "concurrency"),
                               kind="count")
    articles_per_run: int = setting(500, "Most articles one ingest run fetches; the others wait for the next run, oldest first.",
                                    toml=(GENERAL, "articles_per_run"), kind="count")
    match_window_days: float = setting(7.0, "How far back a new article looks for a story to join, days.",
                                       toml=(GENERAL, "match_window_days"), kind="positive")
    same_event_days: float = setting(1.5, "Tellings published within this many days of a story's nearest telling are judged as reports of "
                                     "one event when close in meaning, even if neither restates the other's lede (from next_day_days on, only if "
                                     "their headlines and ledes announce the same event).",
                                     toml=(GENERAL, "same_event_days"), kind="float")
    follow_up_days: float = setting(3.0, "A telling published this many days or more after a story's nearest telling joins it only if it "
                                    "restates much of it (half): a later event with the same people is a story of its own.",
                                    toml=(GENERAL, "follow_up_days"), kind="positive")
    next_day_days: float = setting(0.5, "A telling published this many days or more after a story's nearest telling that restates less "
                                   "than half of it joins only if its headline and lede announce the same event (the next day's "
                                   "development is another story). Tellings closer together than this count as published the same day: "
                                   "they join when their headlines and ledes announce the same event, however little they restate. "
                                   "Needs the sentence model; set it at or above follow_up_days to turn "
                                   "the check off.", toml=(GENERAL, "next_day_days"), kind="positive")
    semantic: bool = setting(True, "Sentence embeddings (a small ONNX model, on the CPU) judge the sentences the words leave "
                             "unsettled; false: words only.", env="NEWSDELTA_SEMANTIC", toml=(GENERAL, "semantic"), kind="bool")
    recheck_first_minutes: float = setting(30.0, "First re-fetch of an article after this many minutes; the interval doubles each time.",
                                           toml=(GENERAL, "recheck_first_minutes"), kind="positive")
    recheck_for_days: float = setting(14.0, "Articles older than this many days are no longer re-fetched.",
                                      toml=(GENERAL, "recheck_for_days"), kind="float")
    slack_webhook_url: str | None = setting(None, "Slack incoming webhook URL; turns the Slack channel on (secret: environment only).",
                                            env="NEWSDELTA_SLACK_WEBHOOK_URL", secret=True, kind="optional")
    slack_secret_block: str | None = setting(None, "Name of a Prefect Secret block holding the Slack webhook URL.",
                                             toml=("alerts.slack", "secret_block"), kind="optional")
    smtp_host: str | None = setting(None, "SMTP server; with email_to, turns the email channel on.",
                                    env="NEWSDELTA_SMTP_HOST", toml=("alerts.email", "host"), kind="optional")
    smtp_port: int = setting(587, "SMTP port.", env="NEWSDELTA_SMTP_PORT", toml=("alerts.email", "port"), kind="count")
    smtp_user: str | None = setting(None, "SMTP login user (optional).", env="NEWSDELTA_SMTP_USER", toml=("alerts.email", "user"),
                                    kind="optional")
    smtp_password: str | None = setting(None, "SMTP password (secret: environment only).", env="NEWSDELTA_SMTP_PASSWORD",
                                        secret=True, kind="optional")
    smtp_secret_block: str | None = setting(None, "Name of a Prefect Secret block holding the SMTP password.",
                                            toml=("alerts.email", "secret_block"), kind="optional")
    smtp_tls: str = setting("starttls", "starttls, ssl or none.", env="NEWSDELTA_SMTP_TLS", toml=("alerts.email", "tls"),
                            kind="smtp_tls")
    smtp_ca_file: Path | None = setting(None, "PEM file of a certificate authority trusted for the SMTP server's certificate, "
                                        "besides the system's (a mail server with its own CA); relative to the config file.",
                                        env="NEWSDELTA_SMTP_CA_FILE", toml=("alerts.email", "ca_file"), kind="path")
    smtp_timeout_s: float = setting(30.0, "Timeout for one SMTP conversation, seconds.", toml=("alerts.email", "timeout_s"),
                                    kind="positive")
    email_from: str | None = setting(None, "Sender address of alert emails.", env="NEWSDELTA_EMAIL_FROM",
                                     toml=("alerts.email", "from"), kind="optional")
    email_to: tuple[str, ...] = setting((), "Recipients of alert emails (comma-separated in the environment).",
                                        env="NEWSDELTA_EMAIL_TO", toml=("alerts.email", "to"), kind="strs")
    templates_dir: Path | None = setting(None, "Directory of Jinja2 templates overriding the defaults (slack.json.j2, "
                                         "email.txt.j2, email.html.j2, console.txt.j2); relative to the config file.",
                                         env="NEWSDELTA_TEMPLATES_DIR", toml=(GENERAL, "templates_dir"), kind="path")
    digest_minutes: dict[str, float] = setting({}, "[alerts.digest] channel = minutes: one summary per period on that channel "
                                               "instead of one message per finding.", toml=("alerts", "digest"), kind="digest")
    console_alerts: bool | None = setting(None, "Print alerts to the console too (default: only when no other channel is configured).",
                                          toml=("alerts", "console"), kind="bool")
    alerts_min_new_words: int = setting(6, "A finding is alerted only when its new paragraphs hold this many words and at least one "
                                        "sentence that states something; smaller findings are stored and shown, not sent.",
                                        env="NEWSDELTA_ALERTS_MIN_NEW_WORDS", toml=("alerts", "min_new_words"), kind="int")
    template_stories: int = setting(3, "A paragraph an outlet has carried in this many different stories is its template text "
                                    "(a promo, a disclaimer): set aside from matching, findings and diffs like other page furniture.",
                                    toml=(GENERAL, "template_stories"), kind="recurrence")
    public_url: str | None = setting(None, "Address where `newsdelta web` is reached (e.g. https://newsdelta.example.com); when set, "
                                     "alerts and each run's Prefect artifact link to the story pages there.",
                                     env="NEWSDELTA_PUBLIC_URL", toml=(GENERAL, "public_url"), kind="optional")

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

    def page_url(self, path: str) -> str | None:
        """The web view's address of `path` ("stories/3"), when public_url is set."""
        return public_page(self.public_url, path)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        """Settings safe to print or log: secrets shown only as set / not set."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata["secret"]:
                out[f.name] = "(set)" if value else "(not set)"
            elif f.name == "database_url":
                out[f.name] = _redact_db_url(value)
            elif f.name == "feeds":
                out[f.name] = [{"url": x.url, "outlet": x.outlet, "interval_minutes": x.interval_minutes} for x in value]
            elif isinstance(value, Path):
                out[f.name] = str(value)
            elif isinstance(value, tuple):
                out[f.name] = list(value)
            else:
                out[f.name] = value
        return out


def public_page(public_url: str | None, path: str) -> str | None:
    """`path` under the web view's public address, or None when there is none."""
    return f"{public_url.rstrip('/')}/{path.lstrip('/')}" if public_url else None


def settings_table() -> str:
    """The README's table of settings, made from the declarations."""
    rows = ["| setting | config file | environment | default | meaning |", "|---|---|---|---|---|"]
    for f in fields(Settings):
        toml = f.metadata["toml"]
        where = "`[[feeds]]`" if f.name == "feeds" else f"`[{toml[0]}] {toml[1]}`" if toml else "–"
        env = f"`{f.metadata['env']}`" if f.metadata["env"] else "–"
        default = f.default if f.default is not MISSING else (f.default_factory() if f.default_factory is not MISSING else None)
        shown = "–" if default in (None, "", (), {}) else f"`{default}`"
        rows.append(f"| `{f.name}` | {where} | {env} | {shown} | {f.metadata['help']} |")
    return "\n".join(rows)


def default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "newsdelta"


def load_settings(config: str | Path | None = None, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    env = os.environ if env is None else env
    home = Path(env.get("NEWSDELTA_HOME") or overrides.pop("home", None) or default_home()).expanduser()
    config_path: Path | None = Path(config or env.get("NEWSDELTA_CONFIG") or home / "config.toml").expanduser()
    explicit = bool(config or env.get("NEWSDELTA_CONFIG"))
    values: dict[str, Any] = {}
    if config_path is not None and config_path.is_file():
        values = _read_config(config_path)
    elif explicit:
        raise ConfigError(f"config file {config_path} does not exist" if not Path(str(config_path)).exists()
                          else f"config file {config_path} is not a file")
    else:
        config_path = None
    allow_from_file = tuple(values.pop("allow_hosts", ()))
    for f in fields(Settings):
        var = f.metadata["env"]
        if var and f.name not in ("home", "config_path") and env.get(var):
            values[f.name] = _read(f, env[var], var)
    values["allow_hosts"] = tuple(values.get("allow_hosts", ())) + allow_from_file
    values.update(overrides)
    values["database_url"] = values.get("database_url") or f"sqlite:///{home / 'newsdelta.db'}"
    settings = Settings(home=home, config_path=config_path, **values)
    _validate(settings)
    return settings


def _read(f: Field[Any], raw: Any, where: str) -> Any:
    """A value from the config file or the environment (a string), as the setting's kind."""
    reader = _READERS[f.metadata["kind"]]
    try:
        return reader(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _number(value: Any, integer: bool = False) -> Any:
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            raise ValueError(f"expected {'a whole number' if integer else 'a number'}, got {value!r}") from None
    if integer and isinstance(value, float) and value.is_integer():
        value = int(value)
    if integer and not isinstance(value, int):
        raise TypeError(f"expected a whole number, got {value!r}")
    if not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return value if integer else float(value)


def _positive(value: Any, integer: bool = False) -> Any:
    number = _number(value, integer)
    if number <= 0:
        raise ValueError(f"must be more than 0, got {value!r}")
    return number


def _at_least(value: Any, least: int) -> int:
    number = _number(value, integer=True)
    if number < least:
        raise ValueError(f"must be at least {least} (text recurring in one story is that story's own), got {value!r}")
    return int(number)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = _text(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TypeError(f"expected a list of strings, got {value!r}")


def _smtp_tls(value: Any) -> str:
    if _text(value) not in ("starttls", "ssl", "none"):
        raise ValueError(f"expected starttls, ssl or none, got {value!r}")
    return str(value)


def _database_url(value: Any) -> str:
    """A URL SQLAlchemy can open with a synchronous driver that is installed: a typo, an
    unknown scheme or a missing driver is reported here, in one line, not as a traceback from
    the first connection."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    text = _text(value).strip()
    forms = "sqlite:////path/to/newsdelta.db or postgresql+psycopg://user@host/db"
    try:
        url = make_url(text)
        dialect = url.get_dialect()
    except NoSuchModuleError:  # a subclass of ArgumentError: parsed, but no such dialect
        raise ValueError(f"unknown database kind {url.drivername!r} (expected {forms})") from None
    except ArgumentError:
        raise ValueError(f"not a database URL (expected {forms})") from None
    shown = url.render_as_string(hide_password=True)
    if getattr(dialect, "is_async", False):
        raise ValueError(f"{shown}: {dialect.driver} is an asynchronous driver; newsdelta needs a synchronous one: "
                         "postgresql+psycopg://user@host/db")
    try:
        dialect.import_dbapi()
    except ImportError:
        if url.get_backend_name() == "postgresql":
            hint = (f"newsdelta uses psycopg 3: write postgresql+psycopg://{shown.split('://', 1)[1]} "
                    "and install it with pip install 'newsdelta[postgres]'")
        else:
            hint = f"install the {dialect.driver} driver, or use {forms}"
        raise ValueError(f"{shown}: the {dialect.driver} driver is not installed; {hint}") from None
    return text


def _digest(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise TypeError(f"expected a table of channel = minutes, got {value!r}")
    out = {}
    for channel, minutes in value.items():
        if channel not in ("slack", "email", "console"):
            raise ValueError(f"unknown channel {channel!r} (slack, email or console)")
        out[str(channel)] = _positive(minutes)
    return out


_READERS: dict[str, Callable[[Any], Any]] = {
    "str": _text,
    "optional": _text,
    "path": lambda v: Path(_text(v)).expanduser(),
    "int": lambda v: _number(v, integer=True),
    "count": lambda v: _positive(v, integer=True),
    "recurrence": lambda v: _at_least(v, 2),
    "float": _number,
    "positive": _positive,
    "bool": _flag,
    "strs": _strings,
    "smtp_tls": _smtp_tls,
    "digest": _digest,
    "database_url": _database_url,
}
_FEED_KEYS = {"url": _text, "outlet": _text, "interval_minutes": _positive}


def _read_config(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    by_place = {f.metadata["toml"]: f for f in fields(Settings) if f.metadata["toml"]}
    tables: dict[str, dict[str, Any]] = {GENERAL: {}, "alerts": {}, "alerts.slack": {}, "alerts.email": {}}
    for key, value in raw.items():
        if key == "feeds":
            continue
        if key not in (GENERAL, "alerts") or not isinstance(value, dict):
            raise ConfigError(f"{path}: unknown section [{key}] (sections: [newsdelta], [alerts], [alerts.slack], "
                              "[alerts.email], [alerts.digest], [[feeds]])")
        tables[key] = dict(value)
    alerts = tables["alerts"]
    for sub in ("slack", "email"):
        if sub in alerts:
            if not isinstance(alerts[sub], dict):
                raise ConfigError(f"{path}: [alerts] {sub} must be a table ([alerts.{sub}])")
            tables[f"alerts.{sub}"] = alerts.pop(sub)
    values: dict[str, Any] = {}
    for table, entries in tables.items():
        for key, value in entries.items():
            if key in ("webhook_url", "password", "slack_webhook_url", "smtp_password"):
                raise ConfigError(
                    f"{path}: [{table}] {key}: secrets are not read from the config file; set NEWSDELTA_SLACK_WEBHOOK_URL / "
                    "NEWSDELTA_SMTP_PASSWORD in the environment or name a Prefect Secret block (secret_block)")
            f = by_place.get((table, key))
            if f is None:
                known = sorted(k for t, k in by_place if t == table)
                raise ConfigError(f"{path}: unknown setting [{table}] {key} (known there: {', '.join(known)})")
            values[f.name] = _read(f, value, f"{path}: [{table}] {key}")
    for relative in ("templates_dir", "smtp_ca_file"):
        if relative in values:
            values[relative] = (path.parent / values[relative]).resolve()
    feeds = raw.get("feeds", [])
    if not isinstance(feeds, list):
        raise ConfigError(f"{path}: feeds must be [[feeds]] tables")
    values["feeds"] = tuple(_feed(path, i, item) for i, item in enumerate(feeds))
    return values


def _feed(path: Path, i: int, item: Any) -> FeedConfig:
    where = f"{path}: [[feeds]] #{i + 1}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be a table with url, outlet, interval_minutes")
    unknown = set(item) - set(_FEED_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {', '.join(sorted(unknown))} (known: url, outlet, interval_minutes)")
    if not item.get("url"):
        raise ConfigError(f"{where}: needs a url")
    read: dict[str, Any] = {}
    for key, value in item.items():
        try:
            read[key] = _FEED_KEYS[key](value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where} {key}: {exc}") from None
    return FeedConfig(**read)


def _validate(s: Settings) -> None:
    for feed in s.feeds:
        if not feed.url.startswith(("http://", "https://")):
            raise ConfigError(f"feed url must be http(s): {feed.url}")
    if s.public_url and not s.public_url.startswith(("http://", "https://")):
        raise ConfigError(f"public_url must be an http(s) address, got {s.public_url!r}")
    if s.semantic:
        from textdelta import semantic  # looks for the model's files only

        if not semantic.available():
            raise ConfigError(f"semantic = true, but the sentence model is missing: {semantic.INSTALL_HINT}")


def _redact_db_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - whatever the parser objects to, the URL is not shown
        return "<unparseable database url>"
