"""Reproducible random streams: one per labelled unit of work, independent of job order."""

from __future__ import annotations

import zlib

import numpy as np


def labelled_rng(seed: int, *labels: str | int) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(str(label).encode()) for label in labels)])
