"""Random split-halves of trials, shared by the brain RDMs, the noise ceiling and cell reliability.

numpy only: it runs in the AllenSDK environment (cell selection) as well as the main one.
"""

from __future__ import annotations

import numpy as np

from .seeds import labelled_rng


def random_splits(rng: np.random.Generator, n_splits: int, n_trials: int, n_stimuli: int) -> np.ndarray:
    """Random trial orders, drawn per split and per stimulus: (splits, trials, stimuli).

    The first ⌊trials/2⌋ trials of an order form half A of that split, the rest half B.
    """
    if n_trials < 2:
        raise ValueError(f"a split-half needs at least 2 trials per stimulus, got {n_trials}")
    return np.argsort(rng.random((n_splits, n_trials, n_stimuli)), axis=1)


def half_means(responses: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trial means of half A and half B of one split of ``responses`` (trials × stimuli × cells)."""
    half = responses.shape[0] // 2
    stimulus_index = np.arange(responses.shape[1])[None, :]
    return responses[order[:half], stimulus_index].mean(axis=0), responses[order[half:], stimulus_index].mean(axis=0)


def population_splits(seed: int, n_splits: int, stimulus: str, area: str, depth: int, n_trials: int, n_stimuli: int) -> np.ndarray:
    """The random splits of one population's trials: the brain RDMs' half-trial RDMs and every
    metric that averages over half-trial responses use these same splits."""
    return random_splits(labelled_rng(seed, stimulus, area, depth), n_splits, n_trials, n_stimuli)
