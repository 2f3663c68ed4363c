"""The `newsdelta` command. Heavy imports (Prefect, trafilatura) happen inside commands, so
`--help` and `compare` stay fast."""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import typer

if TYPE_CHECKING:  # imported for annotations only: commands import what they need, so --help stays fast
    from sqlalchemy.engine import Engine

    from newsdelta.settings import Settings

from newsdelta.errors import ConfigError, NewsdeltaError

# Exit statuses, documented in `--help` and the README ("CLI").
EXIT_ERROR = 1  # the command failed (a story that does not exist, a comparison that cannot be read)
EXIT_CONFIG = 2  # configuration: the config file, the environment, the data directory, the database
EXIT_ALL_FEEDS_FAILED = 3  # an ingest run in which every feed polled failed: nothing was read

app = typer.Typer(help="newsdelta: what changed inside an article, and what a rewrite at another outlet adds.",
                  epilog="Exit status: 0 done (an ingest run counts as done when some feeds or articles failed: they are "
                         "reported); 1 the command failed; 2 a configuration error (config file, environment, data "
                         "directory, database); 3 an ingest run in which every feed failed.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

ConfigOption = typer.Option(None, "--config", "-c", help="TOML config file (default: $NEWSDELTA_CONFIG or DATA_DIR/config.toml).")
SemanticOption = typer.Option(True, "--semantic/--lexical", help="Sentence embeddings judge the sentences the words leave unsettled (default), or words only.")
JsonOption = typer.Option(False, "--json", help="Print one JSON document instead of text.")


def _settings(config: Path | None) -> Settings:
    from newsdelta.settings import load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _engine(config: Path | None) -> Engine:
    """The database, created (and migrated) if it is not there yet: for commands that write."""
    settings = _settings(config)
    _writable_data_dir(settings)
    return _open_database(settings)


def _existing_engine(config: Path | None) -> Engine | None:
    """The database if there is one; None when its SQLite file does not exist: a read command
    never creates a database (nor its directory), in a mistyped data directory least of all."""
    settings = _settings(config)
    path = _sqlite_file(settings.database_url)
    if path is not None and not path.is_file():
        if path.parent.exists() and not path.parent.is_dir():
            _writable_data_dir(settings)  # says so, and exits
        return None
    return _open_database(settings)


def _open_database(settings: Settings) -> Engine:
    from newsdelta.errors import CannotOpenDatabase
    from newsdelta.storage.db import engine_for

    try:
        return engine_for(settings.database_url)
    except CannotOpenDatabase as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def _writable_data_dir(settings: Settings) -> None:
    """The directory of the SQLite database (the data directory, unless database_url names
    another) exists and takes a new file; else one line saying which and why."""
    path = _sqlite_file(settings.database_url)
    if path is None:
        return
    folder = path.parent
    what = f"data directory {folder} (NEWSDELTA_HOME)" if folder == settings.home else f"directory {folder} of database_url"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        reason = "it is a file, not a directory" if folder.exists() and not folder.is_dir() else (exc.strerror or str(exc))
        typer.echo(f"configuration error: {what}: {reason}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _quiet_prefect() -> None:
    """Prefect's own per-task log lines drown the summary in interactive use, and the temporary
    server's telemetry heartbeat, which nobody here asked for, fails noisily when the SQLite
    file behind it is busy; keep warnings."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@contextmanager
def _run_output(as_json: bool) -> Iterator[None]:
    """Around a run: its progress on stderr and, with --json, everything the run would print
    (console alerts included) on stderr too, so stdout carries exactly one JSON document."""
    from newsdelta import progress

    with progress.show(sys.stderr), (redirect_stdout(sys.stderr) if as_json else nullcontext()):
        yield


def _all_feeds_failed(summary: dict[str, Any]) -> bool:
    return bool(summary["feeds"]) and all(f["status"] == "error" for f in summary["feeds"])


def _exit_for(summary: dict[str, Any]) -> None:
    """A run that could read none of its feeds is not "nothing new": say so, with its own status."""
    feeds = summary["feeds"]
    if _all_feeds_failed(summary):
        typer.echo(f"every feed failed ({len(feeds)} of {len(feeds)}): nothing was read; see the errors above and "
                   "`newsdelta feeds`", err=True)
        raise typer.Exit(EXIT_ALL_FEEDS_FAILED)


@app.command()
def demo(data_dir: Path | None = typer.Option(None, "--data-dir", help="Keep state here (default: a fresh temporary directory)."),
         verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's log lines.")) -> None:
    """Run the offline demo: two outlets publish the founding story; show what the rewrite adds."""
    from newsdelta.demo import prepare_environment, start_site, write_demo_config

    if not verbose:
        _quiet_prefect()
    temp = None
    if data_dir is None:
        temp = tempfile.TemporaryDirectory(prefix="newsdelta-demo-")
        data_dir = Path(temp.name)
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    prepare_environment(data_dir)
    try:
        with start_site(data_dir) as site:
            config = write_demo_config(data_dir, site.base)
            typer.echo(f"Serving the seed outlets at {site.base} (data: {data_dir})")
            typer.echo("Running the ingest flow: poll feeds, fetch and extract articles, store versions, match stories, alert.\n")
            from newsdelta.flows.ingest import ingest as ingest_flow

            summary = ingest_flow(config_path=str(config))
        _summarise(summary)
        from newsdelta.settings import load_settings
        from newsdelta.storage.db import engine_for
        from newsdelta.views import stories_view, story_text, story_view

        engine = engine_for(load_settings(config).database_url)
        shown = stories_view(engine)
        for story in shown:
            view = story_view(engine, story["id"])
            if view is not None:
                typer.echo("\n" + story_text(view))
        if shown:
            _how_to_open(shown, data_dir, kept=temp is None)
    finally:
        if temp is not None:
            temp.cleanup()


def _how_to_open(stories: list[dict[str, Any]], data_dir: Path, kept: bool) -> None:
    """The demo's last lines: the story page's address and how to serve it."""
    story = next((s for s in stories if s["findings"]), stories[0])
    page = f"http://127.0.0.1:8000/stories/{story['id']}"
    typer.echo(f"\nSee the story in a browser: {page}")
    if kept:
        where = shlex.quote(str(data_dir))
        typer.echo(f"  served by:  newsdelta web --data-dir {where}")
        typer.echo(f"         or:  NEWSDELTA_HOME={where} newsdelta web")
    else:
        typer.echo("  this run's data is deleted as it ends: keep it with  newsdelta demo --data-dir DIR")
        typer.echo("  then serve it with  newsdelta web --data-dir DIR")


@app.command()
def ingest(config: Path | None = ConfigOption,
           feed: list[str] | None = typer.Option(None, "--feed", help="Poll only this feed URL (repeatable; no config needed)."),
           only_due: bool = typer.Option(False, "--only-due", help="Skip feeds polled within their interval."),
           no_deliver: bool = typer.Option(False, "--no-deliver", help="Leave alerts in the outbox."),
           as_json: bool = JsonOption) -> None:
    """One ingest run now over the configured feeds (or only --feed URLs).

    Exit status 0 when the run completed, even if some feeds or articles failed (they are
    reported); 2 for a configuration error, no feeds at all included; 3 when every feed failed."""
    settings = _settings(config)
    if not feed and not settings.feeds:
        typer.echo("configuration error: no feeds configured (add [[feeds]] to the config file, or pass --feed URL)", err=True)
        raise typer.Exit(EXIT_CONFIG)
    for url in feed or []:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # Refused before the run: the run would keep a feed row for it, listed by `feeds` for good.
            typer.echo(f"configuration error: --feed {url}: not an http(s) URL", err=True)
            raise typer.Exit(EXIT_CONFIG)
    _engine(config)  # the flow's engine_for finds it open; a database that cannot be is one line here
    _quiet_prefect()
    from newsdelta.flows.ingest import ingest as ingest_flow

    with _run_output(as_json):
        summary = ingest_flow(feed_urls=list(feed) if feed else None, config_path=str(config) if config else None,
                              only_due=only_due, deliver=not no_deliver)
    _print_json(summary) if as_json else _summarise(summary)
    _exit_for(summary)


@app.command()
def track(url: str, config: Path | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Fetch one article now, store it if it changed, and match it to a story."""
    _engine(config)
    _quiet_prefect()
    from newsdelta.flows.ingest import ingest as ingest_flow

    with _run_output(as_json):
        summary = ingest_flow(article_urls=[url], config_path=str(config) if config else None)
    if as_json:
        _print_json(summary)
        return
    _summarise(summary)
    for a in summary["articles"]:
        if a["track"].get("story_id"):
            typer.echo(f"Story #{a['track']['story_id']}: see `newsdelta show {a['track']['story_id']}`")


@app.command()
def stories(config: Path | None = ConfigOption, limit: int = typer.Option(50, help="How many, newest first."), as_json: bool = JsonOption) -> None:
    """List stories with their outlets and findings."""
    from newsdelta.views import stories_view

    engine = _existing_engine(config)
    rows = stories_view(engine, limit) if engine is not None else []
    if as_json:
        _print_json(rows)
        return
    if not rows:
        typer.echo("No stories yet. Run `newsdelta ingest` (or `newsdelta demo`).")
    for s in rows:
        typer.echo(f"#{s['id']:<5} {s['findings']} finding(s)  {len(s['outlets'])} outlet(s) [{', '.join(s['outlets'])}]  {s['title']}")


@app.command()
def show(story: int, config: Path | None = ConfigOption, as_json: bool = JsonOption,
         furniture: bool = typer.Option(False, "--furniture", help="List each telling's page furniture (set aside from matching, "
                                        "findings and alerts; kept in the stored version) instead of counting it.")) -> None:
    """Show one story: its articles per outlet, and the new sections each one added."""
    from newsdelta.views import story_text, story_view

    engine = _existing_engine(config)
    view = story_view(engine, story, _settings(config).template_stories) if engine is not None else None
    if view is None:
        typer.echo(f"no story #{story}", err=True)
        raise typer.Exit(1)
    _print_json(view) if as_json else typer.echo(story_text(view, furniture=furniture))


@app.command()
def feeds(config: Path | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Feed health: last status, entries, failures and the last error of each feed."""
    from newsdelta.views import feeds_view

    engine = _existing_engine(config)
    rows = feeds_view(engine) if engine is not None else []
    if as_json:
        _print_json(rows)
        return
    if not rows:
        typer.echo("No feeds polled yet.")
    for f in rows:
        mark = "ok  " if f["healthy"] else "SICK"
        typer.echo(f"{mark} {f['status']:<12} {f['outlet'] or '-':<20} {f['url']}")
        typer.echo(f"     polled {f['last_polled_at']}, next {f['next_poll_at']}, {f['entries_seen']} entries ({f['new_entries']} new), "
                   f"{f['consecutive_failures']} failure(s) in a row, {f['total_failures']}/{f['total_polls']} polls failed")
        if f["error"]:
            typer.echo(f"     error: {f['error']}")


@app.command()
def alerts(config: Path | None = ConfigOption,
           status: str | None = typer.Option(None, help="pending, sending, sent or failed."),
           retry: bool = typer.Option(False, "--retry", help="Send pending and failed alerts now, ignoring backoff."),
           as_json: bool = JsonOption) -> None:
    """The alert outbox: pending, sent and failed alerts with the last error. With --retry, the
    exit status is 1 when any delivery failed."""
    from newsdelta.views import alerts_view

    engine = _existing_engine(config)  # no database yet: no alerts, and none is created
    failed = 0
    if retry:
        from newsdelta.alerts.outbox import DeliveryReport
        from newsdelta.stages.deliver import deliver_all

        report = deliver_all(engine, _settings(config), force=True) if engine is not None else DeliveryReport()
        failed = len(report.failed)
        typer.echo(f"retried: {len(report.sent)} sent, {failed} failed", err=as_json)
    rows = alerts_view(engine, status) if engine is not None else []
    if as_json:
        _print_json(rows)
    else:
        if not rows:
            typer.echo("No alerts.")
        for a in rows:
            typer.echo(f"#{a['id']:<5} {a['channel']:<8} {a['status']:<8} attempts={a['attempts']}  {a['story']}")
            if a["last_error"]:
                typer.echo(f"       last error: {a['last_error']} (next attempt {a['next_attempt_at']})")
    if failed:
        raise typer.Exit(1)  # a script or cron job retrying deliveries must see that some still fail


@app.command()
def deliver(config: Path | None = ConfigOption, force: bool = typer.Option(False, help="Ignore backoff.")) -> None:
    """Run the delivery flow: send pending alerts on every configured channel."""
    from newsdelta.stages.deliver import alerts_due

    settings = _settings(config)
    engine = _existing_engine(config)
    if engine is None or not alerts_due(engine, settings, force=force):
        # Starting Prefect (its temporary server, on a machine without one) costs far more
        # than sending; with nothing due there is no flow run to show.
        typer.echo("0 sent, 0 failed (nothing due)")
        return
    _quiet_prefect()
    from newsdelta.flows.deliver import deliver_alerts

    result = deliver_alerts(config_path=str(config) if config else None, force=force)
    typer.echo(f"{len(result['sent'])} sent, {len(result['failed'])} failed")


@app.command()
def compare(old: Path, new: Path, as_json: bool = JsonOption, semantic: bool = SemanticOption,
            explain: bool = typer.Option(False, "--explain", help="Say why: the verdict's evidence, and each new paragraph's closest old text."),
            days_apart: float | None = typer.Option(
                None, "--days-apart", min=0.0, max=36500.0,
                help="NEW was published this many days after OLD. The pipeline knows it and decides with it, as this does: "
                     "reports close in time may be independent reports of one event, and a development the next day or "
                     "a follow-up days later is another story. The rules for reports close in time and the next day "
                     "need the sentence model (not with --lexical).")) -> None:
    """Compare two versions or tellings: same story? what does NEW add? (HTML or plain text files)."""
    from newsdelta.documents import load_document
    from textdelta import compare_to_story

    try:
        result = compare_to_story([load_document(old)], load_document(new), semantic=_semantic_scorer(semantic),
                                  days_apart=days_apart)
    except (OSError, NewsdeltaError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        data = result.to_json()
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    verdict = "SAME STORY" if result.same_story else "DIFFERENT STORIES"
    typer.echo(f"{verdict} (score {result.score:.2f})")
    if not result.new_sentences:
        typer.echo("NEW adds nothing that OLD did not have.")
    for s in result.new_sections:
        title = s.heading or ("new paragraphs" + (f' under "{s.under_heading}"' if s.under_heading else ""))
        typer.echo(f"\n## {title}")
        for p in s.paragraphs:
            typer.echo(f"   {p}")
    in_sections = {p for s in result.new_sections for p in s.paragraphs}
    loose = [x for x in result.new_sentences if not any(x in p for p in in_sections)]
    if loose:
        typer.echo("\nOther new sentences:")
        for x in loose:
            typer.echo(f" + {x}")
    if result.changed_sentences:
        typer.echo("\nChanged sentences:")
        for c in result.changed_sentences:
            typer.echo(f" - {c.old}\n + {c.new}")
    if explain:
        why = result.explanation()
        v = why["verdict"]
        typer.echo(f"\nWhy: score {v['score']} against the threshold {v['threshold']}: {v['restated_share']} restated"
                   + (f", times {v['lede_factor']} because the ledes report different events" if v["lede_differs"] else "")
                   + (f"; but the two tellings are far apart in meaning (cosine {v['telling_cosine']}), so another event"
                      if v.get("rule") == "far_in_meaning" else "")
                   + (f"; {RULE_WORDS[v['rule']].format(**v)}" if v.get("rule") in RULE_WORDS else "")
                   + ("" if v["sentence_model"] else " (words only)")
                   + ("" if v["sentences_by_meaning"] or not v["sentence_model"]
                      else " (sentences compared by their words: the texts share too few rare terms to be compared by meaning)"))
        for p in why["new_paragraphs"]:
            semantic_score = "-" if p["semantic"] is None else p["semantic"]
            typer.echo(f"\n new: {p['paragraph'][:200]}\n   closest old: {(p['closest_old'] or '(none)')[:200]}\n"
                       f"   words {p['lexical']}, meaning {semantic_score}")


RULE_WORDS = {
    "close_in_time": "published {days_apart} days apart and close in meaning (cosine {telling_cosine}): independent reports of one event",
    "same_day_event": "published {days_apart} days apart, and its headline and lede announce the story's event (cosine {event_cosine}): "
                      "one event's reports, however little they restate",
    "follow_up": "published {days_since_first} days after the story began, so it must restate more of it: a later event with the same people restates little",
    "other_event": "published {days_apart} days later, and its headline and lede announce another event (cosine {event_cosine})",
}


@app.command()
def evaluate(as_json: bool = JsonOption, fit: bool = typer.Option(False, "--fit", help="Refit thresholds on the fit split and print them."),
             semantic: bool = SemanticOption,
             grouping: bool = typer.Option(True, "--grouping/--no-grouping", help="Also group the packaged multi-event set into stories "
                                           "through the ingest run (local HTTP, a temporary database) and report pairwise P/R and ARI.")) -> None:
    """Evaluate story matching and new-paragraph detection on the seeds and the labelled set."""
    from newsdelta.evaluation import main as run_evaluation

    run_evaluation(as_json=as_json, fit_thresholds=fit, semantic=_semantic_scorer(semantic), grouping=grouping)


def _semantic_scorer(wanted: bool) -> Any:
    if not wanted:
        return None
    from textdelta.semantic import SemanticUnavailable, default_embedder

    try:
        return default_embedder()
    except SemanticUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(config: Path | None = ConfigOption,
          cron: str = typer.Option("*/15 * * * *", help="Schedule of the ingest deployment."),
          api_url: str | None = typer.Option(None, help="Prefect server (default: $PREFECT_API_URL, or start a local one)."),
          port: int = typer.Option(4200, help="Port for the local Prefect server and its UI, when one is started (0: any free port).")) -> None:
    """Run on a schedule: serve the ingest deployment (one run at a time) until stopped."""
    from newsdelta.serve import serve_forever

    _settings(config)
    serve_forever(config=str(config.resolve()) if config else None, cron=cron, api_url=api_url, port=port)


@app.command()
def web(config: Path | None = ConfigOption,
        data_dir: Path | None = typer.Option(None, "--data-dir", help="Read the database kept in this directory (as `newsdelta demo "
                                             "--data-dir DIR` leaves it); NEWSDELTA_HOME does the same."),
        host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every address; mind that it has no login)."),
        port: int = typer.Option(8000, help="Port to listen on (0: any free one).")) -> None:
    """Serve a read-only web view: stories, a story's timeline and new material, article diffs, feeds, alerts (and /api)."""
    from newsdelta.settings import load_settings
    from newsdelta.views.web.app import allowed_hosts_for, base_url, bind, create_app, server

    env = dict(os.environ)
    if data_dir is not None:
        # As the demo: the directory's own database, whatever the environment names.
        env["NEWSDELTA_HOME"] = str(data_dir.resolve())
        for var in ("NEWSDELTA_DATABASE_URL", "NEWSDELTA_CONFIG"):
            env.pop(var, None)
    try:
        settings = load_settings(config, env=env)
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    from newsdelta.stages.match import semantic_scorer
    from newsdelta.storage.browse import read_only_engine, schema_revision

    engine = read_only_engine(settings.database_url)  # a missing database is a NewsdeltaError: main() prints it
    semantic = semantic_scorer(settings)  # findings are read again as matching read them
    try:
        sock = bind(host, port)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    url = base_url(sock)
    database = settings.describe()["database_url"]  # without a password
    typer.echo(f"newsdelta web: {url}/ (read-only view of {database}, schema {schema_revision(engine)}); Ctrl-C stops it")
    if settings.public_url:
        typer.echo(f"alerts link to {settings.public_url}")
    server(create_app(engine, allowed_hosts_for(host, settings.public_url), semantic)).run(sockets=[sock])


@app.command("settings")
def show_settings(config: Path | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Print the effective settings (secrets shown only as set / not set)."""
    described = _settings(config).describe()
    if as_json:
        _print_json(described)
        return
    for name, value in described.items():
        if name == "feeds":
            typer.echo(f"feeds: {len(value)}")
            for feed in value:
                typer.echo(f"  {feed['url']}  outlet={feed['outlet'] or '-'}  every {feed['interval_minutes']:g} min")
        else:
            typer.echo(f"{name}: {'-' if value in (None, [], {}) else value}")


def _summarise(summary: dict[str, Any]) -> None:
    for f in summary["feeds"]:
        extra = f" — {f['error']}" if f.get("error") else ""
        typer.echo(f"feed   {f['status']:<12} {f['entries_seen']:>3} entries, {f['new_entries']:>3} new  {f['url']}{extra}")
    for a in summary["articles"]:
        story = a["track"].get("story_id")
        extra = f" — {a['error']}" if a.get("error") else ""
        typer.echo(f"article {a['status']:<10} story #{story or '-':<4} {a['url']}{extra}")
    sent, failed = summary["alerts"]["sent"], summary["alerts"]["failed"]
    stored = sum(1 for a in summary["articles"] if a["track"].get("version_id"))
    typer.echo(f"\n{len(summary['feeds'])} feed(s) polled, {len(summary['articles'])} article(s) checked, {stored} new version(s) stored, "
               f"{len(summary['findings'])} finding(s), {len(sent)} alert(s) sent, {len(failed)} failed.")
    if not summary["findings"] and not _all_feeds_failed(summary):
        typer.echo("Nothing new.")


def main() -> None:  # pragma: no cover
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except NewsdeltaError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":  # pragma: no cover
    main()
