"""Logging for rule scripts: everything a job says goes to the rule's log file."""

from __future__ import annotations

import logging
import sys
import time

from tqdm import tqdm


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


class Progress:
    """Progress of one long loop: a bar (tqdm) on an interactive terminal, and in the job's log a
    line with the count, rate and time left at each tenth of the work, since a log is not a terminal.

    Use as a context manager and call ``advance(n)`` as steps finish.
    """

    def __init__(self, total: int, what: str, unit: str = "step", logger: logging.Logger | None = None):
        self.total, self.what, self.unit = total, what, unit
        self._log = logger or logging.getLogger("progress")
        self._bar = tqdm(total=total, desc=what, unit=unit, disable=None, leave=False, file=sys.stderr)
        self._start = time.monotonic()
        self._done = 0
        self._tenths_logged = 0

    def advance(self, steps: int = 1) -> None:
        self._done += steps
        self._bar.update(steps)
        tenths = self._done * 10 // max(self.total, 1)
        if tenths > self._tenths_logged:
            self._tenths_logged = tenths
            elapsed = time.monotonic() - self._start
            rate = self._done / elapsed if elapsed > 0 else float("inf")
            left = (self.total - self._done) / rate if rate > 0 else float("inf")
            self._log.info(
                "%s: %d/%d %ss (%d %%), %.3g %ss/s, about %s left", self.what, self._done, self.total, self.unit,
                100 * self._done // max(self.total, 1), rate, self.unit, tqdm.format_interval(left),
            )  # fmt: skip

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc) -> None:
        self._bar.close()
