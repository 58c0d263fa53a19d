"""Debiased linear CKA between a model's layers and brain populations: the metric's scorers for the
frame every metric shares (``frame``).

Linear CKA compares two representations of the same stimuli through their stimulus × stimulus
Gram matrices (features centred over stimuli): HSIC(K, L) / √(HSIC(K, K) · HSIC(L, L)). The
debiased form uses the unbiased HSIC estimator (Song et al. 2012; Nguyen, Raghu & Kornblith
2021), whose expectation does not grow with the number of features as the plain estimator's does,
so a layer of 100,000 features and a population of 100 cells are on one scale.

Like the RSA score, the score of a layer is its CKA with the half-trial mean responses of each
random split (``splits.population_splits``), averaged over splits; the ceiling is √ of the CKA of
the two halves of each split (median over splits): what a model equal to the population's
noise-free response would reach against one half (``split_half_ceiling``).
A bootstrap draw leaves out the pairs of a stimulus with its own copy, as the RSA bootstrap does:
their similarity is a stimulus's with itself, which the debiased estimator is built to leave out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .frame import Plan, Statistics, metric_table, resample
from .inference import PERMUTED_ENTRIES
from .noise_ceiling import ceiling_errors, halving_splits
from .rdm import container_draws, containers_note
from .resampling import Relabellings, ceiling_halvings, ceiling_relabellings
from .seeds import Stream, labelled_rng
from .splits import half_means

LABEL = "cka"


def centred_gram(patterns: np.ndarray) -> np.ndarray:
    """Gram matrices of patterns centred over stimuli: (..., n, p) → (..., n, n)."""
    centred = patterns - patterns.mean(axis=-2, keepdims=True)
    return centred @ np.swapaxes(centred, -1, -2)


def centre_gram(gram: np.ndarray) -> np.ndarray:
    """The Gram matrix of the same patterns centred over stimuli, from an uncentred one."""
    return gram - gram.mean(axis=-1, keepdims=True) - gram.mean(axis=-2, keepdims=True) + gram.mean(axis=(-2, -1), keepdims=True)


def _off_diagonal(grams: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """Gram matrices with the diagonal, and the pairs ``keep`` marks False, set to zero."""
    n = grams.shape[-1]
    mask = ~np.eye(n, dtype=bool) if keep is None else keep & ~np.eye(n, dtype=bool)
    return grams * mask


def _parts(grams: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened matrix, total and row sums of zero-diagonal Gram matrices (k, n, n)."""
    return grams.reshape(len(grams), -1), grams.sum(axis=(1, 2)), grams.sum(axis=2)


def _hsic(first: tuple, second: tuple, n: int) -> np.ndarray:
    """Unbiased HSIC of every pair of two sets of zero-diagonal Gram matrices, from their ``_parts``."""
    flat_k, total_k, rows_k = first
    flat_l, total_l, rows_l = second
    return (
        flat_k @ flat_l.T + np.outer(total_k, total_l) / ((n - 1) * (n - 2)) - 2 / (n - 2) * rows_k @ rows_l.T
    ) / (n * (n - 3))


def _paired_hsic(first: tuple, second: tuple, n: int) -> np.ndarray:
    """Unbiased HSIC of each Gram matrix with its counterpart in the other set (the same count)."""
    flat_k, total_k, rows_k = first
    flat_l, total_l, rows_l = second
    return (
        (flat_k * flat_l).sum(axis=1) + total_k * total_l / ((n - 1) * (n - 2)) - 2 / (n - 2) * (rows_k * rows_l).sum(axis=1)
    ) / (n * (n - 3))


def _self_hsic(parts: tuple, n: int) -> np.ndarray:
    return _paired_hsic(parts, parts, n)


def _ratio(hsic: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """CKA from HSICs over the product of the self-HSICs; NaN where a self-HSIC is not positive (a
    constant representation, or one the unbiased estimator puts at or below zero: too few stimuli
    to tell it from nothing)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, hsic / np.sqrt(np.where(denominator > 0, denominator, 1.0)), np.nan)


def debiased_cka(first: np.ndarray, second: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Debiased linear CKA of every pair of centred Gram matrices: (a, n, n) × (b, n, n) → (a, b).

    ``keep`` (n × n, boolean) leaves out the pairs it marks False (the copies of one stimulus in a
    bootstrap draw); the diagonal is always left out. Needs at least 4 stimuli.
    """
    n = first.shape[-1]
    if n < 4:
        raise ValueError(f"debiased CKA needs at least 4 stimuli, got {n}")
    k, l_ = _parts(_off_diagonal(first, keep)), _parts(_off_diagonal(second, keep))
    return _ratio(_hsic(k, l_, n), np.outer(_self_hsic(k, n), _self_hsic(l_, n)))


def paired_debiased_cka(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Debiased linear CKA of each centred Gram matrix with its counterpart: (k, n, n) × (k, n, n) → (k,)."""
    n = first.shape[-1]
    k, l_ = _parts(_off_diagonal(first, None)), _parts(_off_diagonal(second, None))
    self_k, self_l = _self_hsic(k, n), _self_hsic(l_, n)
    return _ratio(_paired_hsic(k, l_, n), self_k * self_l)


def split_half_ceiling(
    half_a: np.ndarray, half_b: np.ndarray, relabellings: Relabellings, relabelling_method: str, halvings: np.ndarray
) -> dict:
    """The ceiling of a score that compares a layer with half-trial responses: √ of the CKA of the
    two halves of every split (splits × n × n centred Gram matrices each), the CKA that the
    population's noise-free response would reach with one half when the halves' noise is
    independent (as √ of a split-half reliability is the r of a perfect model); its median and SD
    over splits, its standard error from the ``halvings`` of the stimuli (``noise_ceiling.ceiling_se``,
    each half on ``halving_splits``), and the p of the first split's CKA against the same with its B
    half relabelled (whether the halves share stimulus structure at all)."""

    def per_split(stimuli: np.ndarray, splits: np.ndarray) -> np.ndarray:
        window = np.ix_(splits, stimuli, stimuli)
        cka = paired_debiased_cka(half_a[window], half_b[window])
        return np.sqrt(np.clip(cka, 0, None))  # a split whose halves share nothing: ceiling 0

    ceilings = per_split(np.arange(half_a.shape[-1]), np.arange(len(half_a)))
    median = float(np.median(ceilings))  # √ of a CKA with one half: already the noise-free model's score
    halved = np.array([[np.median(per_split(stimuli, halving_splits(index, len(half_a)))) for stimuli in halving]
                       for index, halving in enumerate(halvings)]).reshape(len(halvings), 2)  # fmt: skip
    window = np.ix_(relabellings.window, relabellings.window)
    fixed = half_a[:1, window[0], window[1]]
    observed = debiased_cka(fixed, half_b[:1, window[0], window[1]])[0, 0]
    null = np.array([debiased_cka(fixed, half_b[:1, order[:, None], order[None, :]])[0, 0] for order in relabellings.orders])
    return {
        "ceiling_noise_free": median,
        "ceiling_median": median,
        "ceiling_sd": float(np.std(ceilings, ddof=1)) if len(ceilings) > 1 else float("nan"),
        **ceiling_errors(halved),
        "ceiling_splits": len(ceilings),
        "ceiling_p": float(relabellings.p(observed, null)) if len(relabellings) else float("nan"),
        "ceiling_method": "√(split-half debiased linear CKA), median over splits",
        "ceiling_p_method": f"one-sided; the first split's CKA between its halves against the same under {relabelling_method} of its B half",
    }


class HalfTrialGrams:
    """One population's responses (trials × stimuli × cells) as the Gram matrices CKA needs."""

    def __init__(self, key: dict, responses: np.ndarray, container_ids: np.ndarray, splits: np.ndarray):
        self.key, self.responses, self.container_ids, self.splits = key, responses, container_ids, splits
        halves = [half_means(responses, order) for order in splits]
        self.half_a = centred_gram(np.stack([a for a, _ in halves]))  # splits × n × n
        self.half_b = centred_gram(np.stack([b for _, b in halves]))
        self.all_trials = centred_gram(responses.mean(axis=0))  # n × n

    def container_grams(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """Half-A Gram matrices of containers drawn with replacement, draw d on split d mod splits."""
        draws = container_draws(rng, self.container_ids, count)
        n = self.responses.shape[1]
        grams = np.empty((len(draws), n, n))
        for draw, cells in enumerate(draws):
            half_a, _ = half_means(self.responses[:, :, cells], self.splits[draw % len(self.splits)])
            grams[draw] = centred_gram(half_a)
        return grams


def _flags(layers: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """populations × layers: why a CKA is missing ("" when it is not)."""
    constant = np.einsum("lii->l", layers) <= 0
    flags = np.where(constant, "layer constant across stimuli: it does not tell the stimuli apart", "")
    flags = np.broadcast_to(flags, observed.shape).astype(object)
    undefined = np.isnan(observed) & (flags == "")
    flags[undefined] = "CKA undefined: the unbiased self-similarity of the layer or the population is not positive"
    return flags


class GramBlock:
    """CKA's scorers: every layer's centred Gram matrix against every population's half-trial ones."""

    def __init__(self, populations: list[HalfTrialGrams], layers: np.ndarray, container_grams: list[np.ndarray]):
        self.layers, self.container_grams = layers, container_grams
        self.positions = np.arange(len(layers))
        self.populations, self.splits = len(populations), len(populations[0].splits)
        self.brains = np.concatenate([population.half_a for population in populations])  # (populations·splits) × n × n
        self.all_trials = np.stack([population.all_trials for population in populations])  # populations × n × n
        self.relabelling_batch = max(1, PERMUTED_ENTRIES // max(layers.size, 1))
        self._zeroed = _off_diagonal(layers, None)

    def _split(self, split: int) -> np.ndarray:
        n = self.layers.shape[-1]
        return self.brains.reshape(self.populations, self.splits, n, n)[:, split % self.splits]

    def per_split(self) -> np.ndarray:
        return debiased_cka(self.brains, self.layers).reshape(self.populations, self.splits, len(self.layers))

    def on_draw(self, index: int, draw: np.ndarray) -> np.ndarray:
        """The pairs of a stimulus with its own copy are left out, as the RSA bootstrap leaves them."""
        keep = draw[:, None] != draw[None, :]
        drawn = self._split(index)[:, draw[:, None], draw[None, :]]
        return debiased_cka(drawn, self.layers[:, draw[:, None], draw[None, :]], keep)

    def p_observed(self, window: np.ndarray) -> np.ndarray:
        """The CKA of each layer with the population's all-trial responses, on the window."""
        index = np.ix_(window, window)
        return debiased_cka(self.all_trials[:, index[0], index[1]], self.layers[:, index[0], index[1]])

    def on_relabellings(self, window: np.ndarray, orders: np.ndarray) -> np.ndarray:
        """The CKA with the all-trial responses at the window, every layer's Gram matrix at each
        order's stimuli (the unbiased HSIC is unchanged by where the features were centred)."""
        m, count = len(window), len(self.layers)
        index = np.ix_(window, window)
        brain_parts = _parts(_off_diagonal(self.all_trials[:, index[0], index[1]], None))
        permuted = self._zeroed[:, orders[:, :, None], orders[:, None, :]].reshape(-1, m, m)  # (layers·orders) × m × m
        layer_parts = _parts(permuted)
        hsic = _hsic(layer_parts, brain_parts, m)  # (layers·orders) × populations
        cka = _ratio(hsic, np.outer(_self_hsic(layer_parts, m), _self_hsic(brain_parts, m))).reshape(count, len(orders), -1)
        return cka.transpose(1, 2, 0)

    def on_half(self, fold: int, stimuli: np.ndarray) -> np.ndarray:
        index = np.ix_(stimuli, stimuli)
        return debiased_cka(self._split(fold)[:, index[0], index[1]], self.layers[:, index[0], index[1]])

    def on_containers(self) -> list[np.ndarray]:
        return [debiased_cka(grams, self.layers) if len(grams) else np.empty((0, len(self.layers))) for grams in self.container_grams]


def cka_layers(
    populations: list[HalfTrialGrams], layers: np.ndarray, pathways: np.ndarray, statistics: Statistics, stimulus: str,
    container_bootstraps: int,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:  # fmt: skip
    """One row per population × layer (``layers``: the model's centred Gram matrices, layers × n × n),
    with the resamples behind it (``frame.Resampled.resamples``)."""
    n = layers.shape[-1]
    plan = Plan.drawn(statistics, stimulus, n)
    container_grams, ceilings = [], []
    halvings = ceiling_halvings(statistics.seed, stimulus, n, statistics.continuous)
    for population in populations:
        labels = (stimulus, population.key["area"], population.key["depth"])
        rng = labelled_rng(statistics.seed, Stream.CONTAINER_BOOTSTRAP, *labels)
        container_grams.append(population.container_grams(rng, container_bootstraps))
        orders = ceiling_relabellings(statistics.seed, statistics.permutations, *labels, n, statistics.continuous)
        relabelling_method = plan.stimuli.relabelling_method(len(orders))
        ceilings.append(split_half_ceiling(population.half_a, population.half_b, orders, relabelling_method, halvings))
    what = f"{stimulus}, {len(populations)} population(s) × {len(layers)} layer(s): CKA resampling"
    counts = [len(grams) for grams in container_grams]
    resampled = resample([GramBlock(populations, layers, container_grams)], 1, len(populations), len(layers),
                         len(populations[0].splits), counts, plan, what)  # fmt: skip
    methods = plan.methods(
        statistics,
        max(counts),
        "the CKA of the layer with the all-trial responses against the same under {relabellings} of the layer (the "
        "score, the mean CKA over half-trial responses, measures the same shared structure)",
    )
    table = metric_table(
        resampled, [population.key for population in populations], pathways, statistics, _flags(layers, resampled.observed),
        [containers_note(len(np.unique(population.container_ids))) for population in populations], ceilings, methods,
    )  # fmt: skip
    table["comparison"] = LABEL
    return table, resampled.resamples()
