"""Which resamples of the stimuli are valid, and how each is drawn.

Scenes shown in random order are exchangeable: any relabelling is a draw from the null, any
bootstrap draw or random halving a fair resample. A movie cut into consecutive segments is not:
neighbouring segments share slow drift in the brain (calcium, running, adaptation) and in the
model (similar frames), so random relabellings break a shared temporal structure that owes
nothing to the stimulus (p too small), bootstrap draws understate the spread, and random halvings
put a segment's neighbour in the other half (the held-out layer choice leaks). For a continuous
stimulus the draws keep the segment order:
- relabellings: circular shifts and reversals of the segment order (neighbours stay neighbours
  except across one cut), all of them when the requested count allows, else a random subset;
- bootstrap: the circular block bootstrap, blocks of ⌈n^(1/3)⌉ consecutive segments (the rate
  that minimises the error of a block-bootstrap variance; Hall, Horowitz & Jing 1995);
- halvings: two contiguous runs of the circular segment order starting at a random cut, with one
  unused segment between them at both cuts;
- cross-validation folds (encoding models): contiguous runs of the segment order.
Circular shifts treat the movie's last segment as the first one's neighbour: exact for a drift
that is stationary around the circle, close when its correlation time is short against the movie
(p uniform in a planted test at an AR(1) coefficient of 0.8 per 0.5 s segment, 60 segments), too
small for very slow drift (15 % of p ≤ 0.05 at 0.9; random relabellings: 96 %).
Every draw is a row of stimulus indices; ``inference`` maps them to RDM vector positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .seeds import Stream, labelled_rng

# Segments left out between the two halves of a continuous stimulus at each cut.
HALVING_GAP = 1


@dataclass(frozen=True)
class Exchangeable:
    """Stimuli shown in random order (natural scenes)."""

    n: int

    def relabellings(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` random stimulus orders (count × n)."""
        return np.argsort(rng.random((count, self.n)), axis=1)

    def relabelling_method(self, count: int) -> str:
        return f"{count} random stimulus relabellings"

    def bootstrap_draws(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` draws of n stimuli with replacement, each with at least two distinct."""
        draws = rng.integers(0, self.n, size=(count, self.n))
        for row in np.flatnonzero(np.ptp(draws, axis=1) == 0):
            while np.ptp(draws[row]) == 0:
                draws[row] = rng.integers(0, self.n, size=self.n)
        return draws

    def bootstrap_method(self, count: int) -> str:
        return f"{count} stimulus draws with replacement"

    def halvings(self, rng: np.random.Generator, folds: int) -> np.ndarray:
        """Random halvings: (folds, 2, ⌊n/2⌋) ascending stimulus indices (an odd one out unused)."""
        half = self.n // 2
        orders = np.argsort(rng.random((folds, self.n)), axis=1)[:, : 2 * half]
        return np.sort(orders.reshape(folds, 2, half), axis=-1)

    def halving_method(self, folds: int) -> str:
        return f"{folds} random stimulus halvings"

    def folds(self, rng: np.random.Generator, count: int) -> list[np.ndarray]:
        """A random partition of the stimuli into ``count`` folds of near-equal size (ascending)."""
        return [np.sort(fold) for fold in np.array_split(rng.permutation(self.n), count)]

    def fold_method(self, count: int) -> str:
        return f"{count} random folds of the stimuli"


@dataclass(frozen=True)
class Continuous:
    """Consecutive segments of one continuous stimulus (a movie), in their order."""

    n: int

    @property
    def block(self) -> int:
        return max(1, math.ceil(self.n ** (1 / 3)))

    def _all_relabellings(self) -> np.ndarray:
        """Every circular shift and reversal but the identity: (2n − 1) × n."""
        positions = np.arange(self.n)
        shifts = (positions[None, :] + positions[:, None]) % self.n
        reversals = (positions[:, None] - positions[None, :]) % self.n
        return np.concatenate([shifts[1:], reversals])

    def relabellings(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """All circular shifts and reversals when ``count`` reaches their number (an exact test),
        else ``count`` of them drawn without replacement."""
        every = self._all_relabellings()
        if count >= len(every):
            return every
        return every[np.sort(rng.choice(len(every), size=count, replace=False))]

    def relabelling_method(self, count: int) -> str:
        every = 2 * self.n - 1
        if count >= every:
            return f"all {every} circular shifts and reversals of the segment order (exact)"
        return f"{count} of the {every} circular shifts and reversals of the segment order"

    def bootstrap_draws(self, rng: np.random.Generator, count: int) -> np.ndarray:
        blocks = math.ceil(self.n / self.block)
        starts = rng.integers(0, self.n, size=(count, blocks))
        draws = (starts[:, :, None] + np.arange(self.block)) % self.n
        return draws.reshape(count, blocks * self.block)[:, : self.n]

    def bootstrap_method(self, count: int) -> str:
        return f"{count} circular block-bootstrap draws (blocks of {self.block} consecutive segments)"

    def halvings(self, rng: np.random.Generator, folds: int) -> np.ndarray:
        half = (self.n - 2 * HALVING_GAP) // 2
        if half < 2:
            raise ValueError(f"a continuous stimulus of {self.n} segments is too short to halve (needs at least 6)")
        cuts = rng.integers(0, self.n, size=folds)
        first = (cuts[:, None] + np.arange(half)) % self.n
        second = (cuts[:, None] + half + HALVING_GAP + np.arange(half)) % self.n
        return np.sort(np.stack([first, second], axis=1), axis=-1)

    def folds(self, rng: np.random.Generator, count: int) -> list[np.ndarray]:
        """``count`` contiguous runs of the segment order: a fold's neighbours are its own."""
        return np.array_split(np.arange(self.n), count)

    def fold_method(self, count: int) -> str:
        return f"{count} contiguous folds of the segment order"

    def halving_method(self, folds: int) -> str:
        return (
            f"{folds} contiguous halvings of the segment order (random cut, {HALVING_GAP} segment left out "
            "between the halves at both cuts)"
        )


def design(n_stimuli: int, continuous: bool) -> Exchangeable | Continuous:
    return Continuous(n_stimuli) if continuous else Exchangeable(n_stimuli)


def ceiling_relabellings(
    seed: int, count: int, stimulus: str, area: str, depth: int | str, n_stimuli: int, continuous: bool
) -> np.ndarray:
    """The relabellings behind one population's ceiling p, the same for every metric."""
    return design(n_stimuli, continuous).relabellings(labelled_rng(seed, Stream.CEILING_RELABELLING, stimulus, area, depth), count)
