"""structlog for every log line: JSON in production, readable in a terminal."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(fmt: str = "console", level: str = "info") -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        # Plain tracebacks: rich ones print local variables, which may hold personal data.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    lvl = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        # Bound to the stream now, not looked up per line: a CLI run in a thread (typer's
        # test runner swaps sys.stderr) must never get another thread's log lines, since
        # concurrent writes to one TextIOWrapper can crash the interpreter.
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries that use stdlib logging (FastStream, nats) go through structlog too.
    logging.basicConfig(
        level=lvl,
        stream=sys.stderr,
        format="%(message)s",
        force=True,
    )
