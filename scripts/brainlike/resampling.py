"""Which resamples of the stimuli are valid, and how each is drawn.

Scenes shown in random order are exchangeable: any relabelling is a draw from the null, any
bootstrap draw or random halving a fair resample. A movie cut into consecutive segments is not:
neighbouring segments share slow drift in the brain (calcium, running, adaptation) and in the
model (similar frames), so random relabellings break a shared temporal structure that owes
nothing to the stimulus (p too small), bootstrap draws understate the spread, and random halvings
put a segment's neighbour in the other half (the held-out layer choice leaks). For a continuous
stimulus the draws keep the segment order:
- relabellings: Harris's shift test (2020, "A shift test for independence in generic time
  series"): the statistic on the middle segments (the window) against the same with the other
  side shifted by −N … N segments, without wrapping round; the unshifted value is among the top k
  of the 2N + 1 with probability at most k / (N + 1) when the two are independent and one is
  stationary, so p = rank / (N + 1) is valid under any slow drift (conservative; smallest p
  1 / (N + 1): 1/21 for 60 segments, with a window of 20);
- bootstrap: the circular block bootstrap, blocks of ⌈n^(1/3)⌉ consecutive segments (the rate
  that minimises the error of a block-bootstrap variance; Hall, Horowitz & Jing 1995);
- halvings: two contiguous runs of the circular segment order starting at a random cut, with one
  unused segment between them at both cuts;
- cross-validation folds (encoding models): contiguous runs of the segment order.
Circular shifts (this module's earlier relabellings) treat the last segment as the first one's
neighbour, and a finite stretch of a smooth series is not circular: under independent AR(1) drift
they gave p ≤ 0.05 in 11 % of null data at φ = 0.8 and 44 % at 0.95; random relabellings 96 %.
Every draw is a row of stimulus indices; ``inference`` maps them to RDM vector positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .inference import permutation_p
from .seeds import Stream, labelled_rng

# Segments left out between the two halves of a continuous stimulus at each cut.
HALVING_GAP = 1
# The shift test's window keeps at least this share of a continuous stimulus's segments.
SHIFT_WINDOW_SHARE = 1 / 3


@dataclass(frozen=True)
class Relabellings:
    """The relabellings behind a permutation p: the fixed side is read at ``window`` (ascending
    stimulus indices), the relabelled side at each row of ``orders`` (count × len(window)), the
    observed statistic pairing ``window`` with itself."""

    window: np.ndarray
    orders: np.ndarray
    shift_test: bool = False  # orders are the shifts −N … N but 0: p is Harris's rank / (N + 1)

    def __len__(self) -> int:
        return len(self.orders)

    def p(self, observed, null: np.ndarray):
        """One-sided p of ``observed`` against ``null`` (relabellings on the first axis)."""
        p = permutation_p(observed, null)
        if not self.shift_test:
            return p
        defined = (~np.isnan(np.asarray(null))).sum(axis=0)
        # permutation_p is (1 + #null ≥ observed) / (1 + 2N); Harris's bound divides by N + 1.
        return np.minimum(p * (1 + defined) / (1 + defined / 2), 1.0)


@dataclass(frozen=True)
class Exchangeable:
    """Stimuli shown in random order (natural scenes)."""

    n: int

    def relabellings(self, rng: np.random.Generator, count: int) -> Relabellings:
        """``count`` random stimulus orders (count × n)."""
        return Relabellings(np.arange(self.n), np.argsort(rng.random((count, self.n)), axis=1))

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

    def max_shift(self, count: int) -> int:
        """N of the shift test: as many shifts as ``count`` allows (2N of them), the window keeping
        at least ``SHIFT_WINDOW_SHARE`` of the segments."""
        return max(0, min(count // 2, (self.n - math.ceil(self.n * SHIFT_WINDOW_SHARE)) // 2))

    def relabellings(self, rng: np.random.Generator, count: int) -> Relabellings:
        """The shift test's shifts −N … N but 0, each the window's segments moved by that many."""
        shift = self.max_shift(count)
        window = np.arange(shift, self.n - shift)
        shifts = [offset for offset in range(-shift, shift + 1) if offset != 0]
        orders = np.stack([window + offset for offset in shifts]) if shifts else np.empty((0, len(window)), dtype=int)
        return Relabellings(window, orders, shift_test=True)

    def relabelling_method(self, count: int) -> str:
        shift = self.max_shift(count)
        return (
            f"the shift test (Harris 2020): segments {shift}–{self.n - shift - 1} against the other side shifted by "
            f"−{shift} … {shift} segments, no wrap-round; p = rank / {shift + 1} (valid under slow drift, "
            f"conservative; smallest p 1/{shift + 1})"
        )

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


# Halvings of the stimuli behind each ceiling's standard error (``noise_ceiling.ceiling_se``): the
# SE of a standard error from 50 is about a tenth of it, plenty for a limit on it.
CEILING_HALVINGS = 50


def ceiling_halvings(seed: int, stimulus: str, n_stimuli: int, continuous: bool) -> np.ndarray:
    """The halvings (halvings × 2 × half) behind the standard error of every ceiling of one
    stimulus set, the same for every population and metric."""
    return design(n_stimuli, continuous).halvings(labelled_rng(seed, Stream.CEILING_HALVING, stimulus), CEILING_HALVINGS)


def ceiling_relabellings(
    seed: int, count: int, stimulus: str, area: str, depth: int | str, n_stimuli: int, continuous: bool
) -> Relabellings:
    """The relabellings behind one population's ceiling p, the same for every metric."""
    return design(n_stimuli, continuous).relabellings(labelled_rng(seed, Stream.CEILING_RELABELLING, stimulus, area, depth), count)
