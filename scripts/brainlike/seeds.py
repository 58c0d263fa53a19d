"""Reproducible random streams: one per labelled unit of work, independent of job order."""

from __future__ import annotations

import zlib

import numpy as np


def labelled_rng(seed: int, *labels: str | int) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(str(label).encode()) for label in labels)])


class Stream:
    """The label of each kind of random draw, spelled once: draws of different kinds never share a
    stream, and every job that needs a kind's draws (any model, any metric) gets the same ones."""

    STIMULUS_BOOTSTRAP = "stimulus bootstrap"
    RELABELLING = "permutation"
    HALVING = "best layer"
    CONTAINER_BOOTSTRAP = "container bootstrap"
    CEILING_RELABELLING = "ceiling permutation"
    CEILING_HALVING = "ceiling halving"
    CELL_BOOTSTRAP = "cell bootstrap"
    ENCODING_FOLDS = "encoding folds"
    RELIABILITY = "reliability"
    MEMBER_ASSIGNMENTS = "member assignments"
