"""Logging for rule scripts: everything a job says goes to the rule's log file."""

from __future__ import annotations

import logging
import sys


def to_file(path: str) -> None:
    """Log to the job's log file, the error that ends a failing job included (Snakemake names the
    log, so the reason must be in it)."""
    logging.basicConfig(
        filename=path, filemode="w", level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    logging.captureWarnings(True)
    default_hook = sys.excepthook

    def log_then_report(kind, error, traceback):
        logging.getLogger("job").error("the job failed", exc_info=(kind, error, traceback))
        default_hook(kind, error, traceback)

    sys.excepthook = log_then_report
