"""Logging for rule scripts: everything a job says goes to the rule's log file."""

from __future__ import annotations

import logging


def to_file(path: str) -> None:
    logging.basicConfig(
        filename=path, filemode="w", level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    logging.captureWarnings(True)
