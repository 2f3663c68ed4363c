"""Prefect flows: thin wiring of the stages in newsdelta.stages."""

import logging


class _ThreadTimeoutNotice(logging.Filter):
    """Prefect warns on every threaded task with a timeout that the timeout cannot interrupt
    blocking I/O. Ours is a backstop: the fetcher enforces its own overall deadline, so the
    notice is noise repeated per article."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeouts in worker threads cannot interrupt" not in record.getMessage()


for _name in ("prefect.task_runs", "prefect.task_engine"):
    logging.getLogger(_name).addFilter(_ThreadTimeoutNotice())
