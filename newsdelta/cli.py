"""The `newsdelta` command. Heavy imports (Prefect, trafilatura) happen inside commands, so
`--help` and `compare` stay fast."""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # imported for annotations only: commands import what they need, so --help stays fast
    from sqlalchemy.engine import Engine

    from newsdelta.settings import Settings

from newsdelta.errors import ConfigError, NewsdeltaError

app = typer.Typer(help="newsdelta: what changed inside an article, and what a rewrite at another outlet adds.",
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
    from newsdelta.storage.db import engine_for

    settings = _settings(config)
    settings.home.mkdir(parents=True, exist_ok=True)
    return engine_for(settings.database_url)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _quiet_prefect() -> None:
    """Prefect's own per-task log lines drown the summary in interactive use; keep warnings."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


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
    """One ingest run now over the configured feeds (or only --feed URLs)."""
    settings = _settings(config)
    if not feed and not settings.feeds:
        typer.echo("configuration error: no feeds configured (add [[feeds]] to the config file, or pass --feed URL)", err=True)
        raise typer.Exit(2)
    settings.home.mkdir(parents=True, exist_ok=True)
    if not as_json:
        _quiet_prefect()
    from newsdelta.flows.ingest import ingest as ingest_flow

    summary = ingest_flow(feed_urls=list(feed) if feed else None, config_path=str(config) if config else None,
                          only_due=only_due, deliver=not no_deliver)
    _print_json(summary) if as_json else _summarise(summary)


@app.command()
def track(url: str, config: Path | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Fetch one article now, store it if it changed, and match it to a story."""
    settings = _settings(config)
    settings.home.mkdir(parents=True, exist_ok=True)
    if not as_json:
        _quiet_prefect()
    from newsdelta.flows.ingest import ingest as ingest_flow

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

    rows = stories_view(_engine(config), limit)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        typer.echo("No stories yet. Run `newsdelta ingest` (or `newsdelta demo`).")
    for s in rows:
        typer.echo(f"#{s['id']:<5} {s['findings']} finding(s)  {len(s['outlets'])} outlet(s) [{', '.join(s['outlets'])}]  {s['title']}")


@app.command()
def show(story: int, config: Path | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Show one story: its articles per outlet, and the new sections each one added."""
    from newsdelta.views import story_text, story_view

    view = story_view(_engine(config), story)
    if view is None:
        typer.echo(f"no story #{story}", err=True)
        raise typer.Exit(1)
    _print_json(view) if as_json else typer.echo(story_text(view))


@app.command()
def feeds(config: Path | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Feed health: last status, entries, failures and the last error of each feed."""
    from newsdelta.views import feeds_view

    rows = feeds_view(_engine(config))
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

    engine = _engine(config)
    failed = 0
    if retry:
        from newsdelta.stages.deliver import deliver_all

        report = deliver_all(engine, _settings(config), force=True)
        failed = len(report.failed)
        typer.echo(f"retried: {len(report.sent)} sent, {failed} failed", err=as_json)
    rows = alerts_view(engine, status)
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
    _quiet_prefect()
    from newsdelta.flows.deliver import deliver_alerts

    result = deliver_alerts(config_path=str(config) if config else None, force=force)
    typer.echo(f"{len(result['sent'])} sent, {len(result['failed'])} failed")


@app.command()
def compare(old: Path, new: Path, as_json: bool = JsonOption, semantic: bool = SemanticOption,
            explain: bool = typer.Option(False, "--explain", help="Say why: the verdict's evidence, and each new paragraph's closest old text.")) -> None:
    """Compare two versions or tellings: same story? what does NEW add? (HTML or plain text files)."""
    from newsdelta.documents import load_document
    from textdelta import compare as run_compare

    try:
        result = run_compare(load_document(old), load_document(new), semantic=_semantic_scorer(semantic))
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
                   + ("" if v["sentence_model"] else " (words only)"))
        for p in why["new_paragraphs"]:
            semantic_score = "-" if p["semantic"] is None else p["semantic"]
            typer.echo(f"\n new: {p['paragraph'][:200]}\n   closest old: {(p['closest_old'] or '(none)')[:200]}\n"
                       f"   words {p['lexical']}, meaning {semantic_score}")


@app.command()
def evaluate(as_json: bool = JsonOption, fit: bool = typer.Option(False, "--fit", help="Refit thresholds on the fit split and print them."),
             semantic: bool = SemanticOption) -> None:
    """Evaluate story matching and new-paragraph detection on the seeds and the labelled set."""
    from newsdelta.evaluation import main as run_evaluation

    run_evaluation(as_json=as_json, fit_thresholds=fit, semantic=_semantic_scorer(semantic))


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
          port: int = typer.Option(4200, help="Port for the local Prefect server, when one is started.")) -> None:
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
    if not summary["findings"]:
        typer.echo("Nothing new.")


def main() -> None:  # pragma: no cover
    try:
        app()
    except NewsdeltaError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
