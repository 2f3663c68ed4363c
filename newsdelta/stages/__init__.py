"""The ingest pipeline, one module per stage, in the order an article goes through them:

| stage | module | function |
|---|---|---|
| poll | `poll.py` | `poll_feed`: conditional GET of a feed, new entries become pending articles |
| fetch | `fetch.py` | `fetch_batch`: a batch of article pages over HTTP, each handed to extraction |
| extract | `extract.py` | `extract_article`: trafilatura, title, byline, date, heading/paragraph blocks |
| store version | `store.py` | `store_version`: a distinct text becomes a new version, with its diff |
| match story | `match.py` | `match_story`: join the story this article tells, or start one |
| record finding | `findings.py` | `record_finding`: what the article adds to everything its story had |
| queue alerts | `alerts.py` | `queue_alerts`: one outbox row per finding and channel |
| deliver | `deliver.py` | `deliver_channel`: send a channel's pending alerts |

`run.py` chains them: `ingest` is the whole run (the Prefect flow, the benchmark and the tests
all call it, the flow with its stages as Prefect tasks), and `store_article` is the per-article
chain store version → match story → record finding → queue alerts, in one transaction.
Every stage records its outcome in the database, so a failure is visible and the next run
picks the work up again."""
