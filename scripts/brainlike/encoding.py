"""Cross-validated linear encoding models: ridge regression from a layer's features to every cell,
the metric's scorers for the frame every metric shares (``frame``).

For each layer, the stimuli are split into folds (``resampling``: random folds of scenes,
contiguous runs of a movie's segments); for each held-out fold a kernel ridge regression (himalaya's
KernelRidgeCV on the layer's linear kernel, the stimulus × stimulus Gram matrix of its features
centred on the training stimuli) is fitted to every reliable cell's trial-mean response, each cell
with its own regularisation chosen by an inner cross-validation over the training stimuli
(contiguous inner folds), and predicts the held-out stimuli. A cell's score is the Pearson r
between its predictions and its responses within each held-out fold, averaged over folds
(``fold_mean_r``): pooled over folds, each fold's training mean, which moves against its held-out
responses, would shift r down (about −0.14 for an uninformative layer at 118 stimuli).

Working on the Gram matrix makes the cost of a layer independent of its width (it is read once,
in column chunks: ``rdm.stimulus_gram``); the cells are fitted in chunks of ``cell_chunk``. The
kernel is divided by its mean diagonal over the training stimuli, so one grid of alphas suits
layers of any scale.

A cell is reliable when its split-half reliability over trials (Spearman–Brown corrected to the
full trial count: ``populations.split_half_reliability``) reaches the threshold. The trials of each
stimulus are halved at random first: the cells are selected on one half's reliability and their
reliability is measured again on the other half. Measured on the trials that selected it, a cell
near the threshold would carry the chance that let it in (a winner's curse: the ceiling would
overstate the selected cells and the corrected score fall to 0.7 of its value). A population's
score is the median r over its reliable cells, its ceiling √ the median of their reliability on
the other half (the r of a perfect model of the trial means). Its noise-corrected score is the
score over the ceiling over √ the predictions' own reliability: the Spearman–Brown r between the
predictions of ridges fitted, at each cell's chosen penalty, to the trial means of the two halves
of a split of all trials (a model's weights are fitted to noisy means, so its predictions carry
noise of their own). So a model equal to the noise-free response reads 1, as in every metric.

Resamples: stimulus-bootstrap draws (the RSA draws) with the reliable cells drawn with
replacement, containers drawn with replacement, halvings of the stimuli for the held-out best
layer (each scored from the same cross-validated predictions), and the permutation p, which
refits a ridge for every relabelling of the responses (``RefittedRidge``: the penalty chosen by
generalized cross-validation, whose closed form makes a refit two matrix products per fold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .correlation import columnwise_r
from .frame import Plan, Statistics, metric_table, resample
from .noise_ceiling import ceiling_errors
from .populations import spearman_brown, split_half_correlations
from .rdm import container_draws, containers_note
from .resampling import Relabellings, ceiling_halvings
from .seeds import Stream, labelled_rng
from .splits import half_means, random_splits

LABEL = "ridge"
# Memory of the relabelled responses refitted at once (a batch holds a few such copies).
RELABELLING_BYTES = 64 * 2**20


def use_device(device: str | None) -> None:
    """Fit with himalaya's numpy backend (None) or its torch backend on a torch device."""
    import torch
    from himalaya.backend import set_backend

    if device is None:
        set_backend("numpy")
    elif device == "cpu":
        set_backend("torch")
    else:
        if ":" in device:  # himalaya's CUDA backend computes on the current device
            torch.cuda.set_device(torch.device(device))
        set_backend("torch_cuda")


def cells_per_chunk(memory_mb: int, alphas: int, stimuli: int) -> int:
    """Cells fitted at a time within a quarter of ``memory_mb``: the inner cross-validation holds
    a prediction per alpha, stimulus and cell, in float64, and the solver about as much again."""
    return max(1, int(memory_mb * 2**20 / 4 // (2 * 8 * alphas * stimuli)))


@dataclass(frozen=True)
class Encoding:
    alphas: tuple[float, ...]
    folds: int
    inner_folds: int
    reliability_threshold: float
    reliability_splits: int
    cell_chunk: int


@dataclass
class ReliableCells:
    """One population's trial-mean responses of its reliable cells, and what the summary needs."""

    key: dict
    targets: np.ndarray  # stimuli × reliable cells (trial means)
    halves: np.ndarray  # 2 × stimuli × reliable cells: the trial means of each half of a split of all trials
    measuring: np.ndarray  # the trials that did not select the reliable cells: trials × stimuli × reliable cells
    measuring_splits: np.ndarray  # the random splits of those trials their reliability averages over
    reliable: np.ndarray  # indices of the reliable cells among all cells
    container_ids: np.ndarray  # all cells
    best_reliability: float  # the most reliable cell's, on the trials that select
    # p of the reliable cells' median split-half r on the trials that did not select them, against the
    # same with the B half relabelled
    reliability_p: float

    @classmethod
    def from_responses(
        cls, key: dict, responses: np.ndarray, container_ids: np.ndarray, encoding: Encoding, seed: int, stimulus: str,
        relabellings: Relabellings,
    ) -> ReliableCells:  # fmt: skip
        """``relabellings``: of the stimuli, for the p of the population's reliability."""
        trials, stimuli = responses.shape[:2]
        if trials < 4:
            raise ValueError(
                f"{stimulus} {key['area']} {key['depth']}: ridge needs at least 4 trials per stimulus (its cells "
                "are selected on half of them and their reliability measured on the other half, each split in two), "
                f"got {trials}"
            )
        rng = labelled_rng(seed, Stream.RELIABILITY, stimulus, key["area"], key["depth"])
        trial_halves = random_splits(rng, 1, trials, stimuli)[0]
        stimulus_index = np.arange(stimuli)[None, :]
        selecting, measuring = (responses[rows, stimulus_index] for rows in np.split(trial_halves, [trials // 2]))
        selection = _full_count_reliability(selecting, random_splits(rng, encoding.reliability_splits, len(selecting), stimuli))
        reliable = np.flatnonzero(selection >= encoding.reliability_threshold)
        measuring = measuring[:, :, reliable]
        measuring_splits = random_splits(rng, encoding.reliability_splits, len(measuring), stimuli)
        measuring_split = random_splits(rng, 1, len(measuring), stimuli)[0]
        split = random_splits(rng, 1, trials, stimuli)[0]
        return cls(
            key,
            responses[:, :, reliable].mean(axis=0),
            np.stack(half_means(responses[:, :, reliable], split)),
            measuring,
            measuring_splits,
            reliable,
            container_ids,
            float(np.nanmax(selection)) if selection.size else float("nan"),
            (
                _reliability_p(measuring, measuring_split, relabellings)
                if len(relabellings) and len(reliable)
                else float("nan")
            ),
        )

    def ceiling(self) -> float:
        """√ the median reliability of the reliable cells on the trials that did not select them (the
        r of a perfect model of the trial means); NaN without reliable cells."""
        return float(self.ceilings_on(np.arange(self.measuring.shape[1])))

    def ceilings_on(self, subsets: np.ndarray) -> np.ndarray:
        """``ceiling`` on each subset of the stimuli (indices along the last axis, e.g. halvings × 2 ×
        half → halvings × 2), each split's half means computed once."""
        if not len(self.reliable):
            return np.full(subsets.shape[:-1], np.nan)
        reliability = _full_count_reliability(self.measuring, self.measuring_splits, subsets.reshape(-1, subsets.shape[-1]))
        return np.sqrt(np.maximum(np.median(reliability, axis=-1), 0.0)).reshape(subsets.shape[:-1])


def _full_count_reliability(half: np.ndarray, splits: np.ndarray, subsets: np.ndarray | None = None) -> np.ndarray:
    """Each cell's reliability from half the trials (trials × stimuli × cells), averaged over
    ``splits`` of them and stepped up to the full trial count (on each stimulus subset in
    ``subsets``, as ``split_half_correlations``). A negative half's reliability counts as 0:
    stepped up by 2r / (1 + r) a value below −1 would turn positive (r = −0.5 of a quarter of the
    trials would read 4)."""
    return spearman_brown(np.maximum(spearman_brown(split_half_correlations(half, splits, subsets)), 0.0))


def _reliability_p(responses: np.ndarray, split: np.ndarray, relabellings: Relabellings) -> float:
    """p of the median over cells of one split's split-half r (0 for a cell constant in a half)
    against the same with the B half relabelled."""
    a, b = half_means(responses, split)
    window = relabellings.window

    def median_r(b_rows: np.ndarray) -> float:
        return float(np.median(np.nan_to_num(columnwise_r(b[b_rows], a[window]), nan=0.0)))

    return float(relabellings.p(median_r(window), np.array([median_r(order) for order in relabellings.orders])))


def centred_kernels(gram: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The linear kernel of features centred on the ``train`` stimuli, divided by its mean training
    diagonal: (train × train, all stimuli × train); None for a layer constant over the training stimuli."""
    row_means = gram[:, train].mean(axis=1)
    centred = gram - row_means[:, None] - row_means[None, :] + row_means[train].mean()
    scale = np.mean(np.diag(centred)[train])
    if not scale > 1e-12 * max(np.abs(gram).max(), 1e-300):
        return None
    kernel = centred[:, train] / scale
    return kernel[train], kernel


@dataclass(frozen=True)
class _Spectrum:
    """A fold's training kernel diagonalised, K = V diag(s) Vᵀ, and its held-out rows in that
    basis: a ridge at any penalty per target is then two matrix products, z = Vᵀ(y − ȳ) and
    K_held-out V (z / (s + a)) + ȳ."""

    eigenvalues: np.ndarray  # ascending, clipped at 0
    basis: np.ndarray  # training stimuli × eigenvectors
    held_out_in_basis: np.ndarray  # held-out stimuli × eigenvectors

    @classmethod
    def of(cls, train_kernel: np.ndarray, held_out_kernel: np.ndarray) -> _Spectrum:
        eigenvalues, basis = np.linalg.eigh(train_kernel)
        return cls(np.clip(eigenvalues, 0, None), basis, held_out_kernel @ basis)

    def project(self, training: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(z, ȳ) of training targets (... × training stimuli × targets)."""
        mean = training.mean(axis=-2, keepdims=True)
        return self.basis.T @ (training - mean), mean

    def predict(self, projected: np.ndarray, mean: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        """Held-out predictions at ``alphas`` (... × targets, one penalty per target)."""
        return self.held_out_in_basis @ (projected / (self.eigenvalues[:, None] + alphas[..., None, :])) + mean


def cross_validated_predictions(
    gram: np.ndarray, targets: np.ndarray, folds: list[np.ndarray], encoding: Encoding, alongside: np.ndarray | None = None
) -> np.ndarray | None:
    """(1 + k) × stimuli × targets: each fold's stimuli predicted by a kernel ridge fitted on the
    others (targets centred on the training stimuli, alpha per target by inner cross-validation),
    then the same for each of the k target sets ``alongside`` (k × stimuli × targets), each target
    at the alpha chosen for it in ``targets``; None for a constant layer."""
    from himalaya.backend import get_backend
    from himalaya.kernel_ridge import KernelRidgeCV
    from sklearn.model_selection import KFold

    backend = get_backend()
    n = len(gram)
    alongside = np.empty((0, *targets.shape)) if alongside is None else alongside
    predictions = np.empty((1 + len(alongside), *targets.shape))
    for test in folds:
        train = np.setdiff1d(np.arange(n), test)
        kernels = centred_kernels(gram, train)
        if kernels is None:
            return None
        train_kernel, kernel = kernels
        mean = targets[train].mean(axis=0)
        model = KernelRidgeCV(
            alphas=np.asarray(encoding.alphas, dtype=float),
            kernel="precomputed",
            cv=KFold(encoding.inner_folds),
            solver_params={"n_targets_batch": encoding.cell_chunk, "n_targets_batch_refit": encoding.cell_chunk},
            warn=False,
        )
        model.fit(train_kernel, targets[train] - mean)
        predictions[0, test] = backend.to_numpy(model.predict(kernel[test])) + mean
        if len(alongside):
            spectrum = _Spectrum.of(train_kernel, kernel[test])
            predictions[1:, test] = spectrum.predict(*spectrum.project(alongside[:, train]), backend.to_numpy(model.best_alphas_))
    return predictions


def _medians(values: np.ndarray, owners: list[np.ndarray]) -> np.ndarray:
    """(..., cells) → (..., populations): the median over each population's columns (NaN for none)."""
    return np.stack(
        [np.median(values[..., columns], axis=-1) if len(columns) else np.full(values.shape[:-1], np.nan) for columns in owners],
        axis=-1,
    )


def _flags(populations: list[ReliableCells], constant: np.ndarray, threshold: float) -> np.ndarray:
    flags = np.full((len(populations), len(constant)), "", dtype=object)
    flags[:, constant] = "layer constant across stimuli: it does not tell the stimuli apart"
    for position, population in enumerate(populations):
        if len(population.reliable) == 0:
            flags[position] = (
                f"no cell reaches encoding.reliability_threshold = {threshold} (the most reliable: "
                f"{population.best_reliability:.3f})"
            )
    return flags


def fold_mean_r(predictions: np.ndarray, targets: np.ndarray, fold_of: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Per column, the Pearson r of predictions and targets within each cross-validation fold,
    averaged over the folds (``fold_of``: each stimulus's fold), on ``rows`` only (stimulus indices,
    repeats allowed; all by default). A fold with fewer than 3 of the rows, or a column constant in
    a fold, is left out of that column's mean; NaN where no fold is left."""
    rows = np.arange(len(targets)) if rows is None else rows
    per_fold = [
        columnwise_r(predictions[chosen], targets[chosen])
        for fold in np.unique(fold_of)
        if len(chosen := rows[fold_of[rows] == fold]) >= 3
    ]
    if not per_fold:
        return np.full(targets.shape[1], np.nan)
    per_fold = np.stack(per_fold)
    defined = np.isfinite(per_fold)
    with np.errstate(invalid="ignore"):
        return np.where(defined, per_fold, 0).sum(axis=0) / defined.sum(axis=0)


class RefittedRidge:
    """The statistic of ridge's p: per cell, the Pearson r within each held-out fold averaged over
    the folds, of a kernel ridge fitted anew to every relabelling of the responses, with the penalty
    chosen per cell from ``alphas`` by generalized cross-validation (GCV).

    The kernel (the layer's Gram matrix at ``window``) stays fixed and the responses are relabelled,
    so each fold's training kernel is diagonalised once: with K = V diag(s) Vᵀ and z = Vᵀ(y − ȳ),
    the fitted values' residual sum of squares at penalty a is Σ (a / (s + a))² z², their degrees
    of freedom 1 + Σ s / (s + a) (the intercept counted), and the held-out prediction
    K_held-out V (z / (s + a)) + ȳ: a refit costs two matrix products, not a solve per penalty.
    GCV stands in for the score's inner cross-validation because it has this closed form; the
    penalties it picks are close, and any rule applied alike to every relabelling gives an exact p.
    """

    def __init__(self, gram: np.ndarray, window: np.ndarray, fold_of: np.ndarray, alphas: tuple[float, ...]):
        kernel_gram = gram[np.ix_(window, window)]
        self.alphas = np.asarray(alphas, dtype=float)
        self.folds: list[tuple[np.ndarray, np.ndarray, _Spectrum]] = []  # (training, held-out positions, spectrum)
        fold_of_window = fold_of[window]
        for fold in np.unique(fold_of_window):
            test = np.flatnonzero(fold_of_window == fold)
            train = np.flatnonzero(fold_of_window != fold)
            kernels = centred_kernels(kernel_gram, train) if len(test) >= 3 and len(train) >= 3 else None
            if kernels is not None:
                self.folds.append((train, test, _Spectrum.of(kernels[0], kernels[1][test])))

    def fold_mean_r(self, responses: np.ndarray) -> np.ndarray:
        """relabellings × cells, from ``responses`` (relabellings × window stimuli × cells); NaN for
        a cell with no fold left (fewer than 3 held-out stimuli, or constant in every fold)."""
        total = np.zeros((len(responses), responses.shape[2]))
        counted = np.zeros(total.shape)
        for train, test, spectrum in self.folds:
            projected, mean = spectrum.project(responses[:, train])  # relabellings × eigenvectors × cells
            eigenvalues = spectrum.eigenvalues[None, :]
            shrinkage = (self.alphas[:, None] / (eigenvalues + self.alphas[:, None])) ** 2
            residual = shrinkage @ (projected * projected)  # relabellings × alphas × cells
            left = 1 - (1 + (eigenvalues / (eigenvalues + self.alphas[:, None])).sum(axis=1)) / len(train)
            with np.errstate(divide="ignore", invalid="ignore"):
                gcv = np.where((left > 1e-9)[:, None], residual / np.maximum(left, 1e-9)[:, None] ** 2, np.inf)
            predictions = spectrum.predict(projected, mean, self.alphas[np.argmin(gcv, axis=1)])
            r = columnwise_r(predictions, responses[:, test], axis=1)
            defined = np.isfinite(r)
            total += np.where(defined, r, 0.0)
            counted += defined
        with np.errstate(invalid="ignore"):
            return total / counted


class PredictionBlock:
    """Ridge's scorers for one layer (under every pathway that records it): the held-out
    predictions of every reliable cell against its trial means, summarised per population; its p
    refits the ridge for every relabelling (``RefittedRidge``)."""

    def __init__(self, positions: np.ndarray, predictions: np.ndarray, targets: np.ndarray, fold_of: np.ndarray,
                 owners: list[np.ndarray], cell_draws: list[np.ndarray], container_cells: list[list[np.ndarray]],
                 gram: np.ndarray, alphas: tuple[float, ...]):  # fmt: skip
        self.positions, self.predictions, self.targets, self.owners = positions, predictions, targets, owners
        self.fold_of, self.cell_draws, self.container_cells = fold_of, cell_draws, container_cells
        self.gram, self.alphas = gram, alphas
        self.cell_r = fold_mean_r(predictions, targets, fold_of)
        self._refitted: tuple[bytes, RefittedRidge] | None = None
        # A refit holds a few copies of the relabelled responses: keep a batch near RELABELLING_BYTES.
        self.relabelling_batch = max(1, RELABELLING_BYTES // (8 * targets.size))

    def _at_positions(self, values: np.ndarray) -> np.ndarray:
        return np.repeat(values[..., None], len(self.positions), axis=-1)

    def _refitted_medians(self, window: np.ndarray, orders: np.ndarray) -> np.ndarray:
        if self._refitted is None or self._refitted[0] != window.tobytes():
            self._refitted = (window.tobytes(), RefittedRidge(self.gram, window, self.fold_of, self.alphas))
        return _medians(self._refitted[1].fold_mean_r(self.targets[orders]), self.owners)

    def per_split(self) -> np.ndarray:
        return self._at_positions(_medians(self.cell_r, self.owners)[:, None])

    def on_draw(self, index: int, draw: np.ndarray) -> np.ndarray:
        """The reliable cells are drawn with replacement too (the cell bootstrap of each population)."""
        drawn_r = fold_mean_r(self.predictions, self.targets, self.fold_of, draw)
        medians = [np.median(drawn_r[columns][cells[index]]) if len(columns) else np.nan
                   for columns, cells in zip(self.owners, self.cell_draws)]  # fmt: skip
        return self._at_positions(np.asarray(medians))

    def p_observed(self, window: np.ndarray) -> np.ndarray:
        """The median over cells of ``RefittedRidge``'s fold-mean r on the stimuli at ``window``."""
        return self._at_positions(self._refitted_medians(window, window[None])[0])

    def on_relabellings(self, window: np.ndarray, orders: np.ndarray) -> np.ndarray:
        """The same, the layer's kernel at ``window`` and the responses at each order, refitted."""
        return self._at_positions(self._refitted_medians(window, orders))

    def on_half(self, fold: int, stimuli: np.ndarray) -> np.ndarray:
        return self._at_positions(_medians(fold_mean_r(self.predictions, self.targets, self.fold_of, stimuli), self.owners))

    def on_containers(self) -> list[np.ndarray]:
        return [
            self._at_positions(np.array([np.median(self.cell_r[cells]) if len(cells) else np.nan for cells in draws]))
            for draws in self.container_cells
        ]


def encode_layers(
    populations: list[ReliableCells], grams: list[np.ndarray], pathways: np.ndarray, statistics: Statistics,
    encoding: Encoding, stimulus: str, container_bootstraps: int,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:  # fmt: skip
    """One row per population × layer (``grams``: each layer's uncentred stimulus Gram matrix; a
    tensor under several pathways is one object, fitted once), with the resamples behind it
    (``frame.Resampled.resamples``)."""
    seed, n = statistics.seed, len(grams[0])
    plan = Plan.drawn(statistics, stimulus, n)
    halvings = ceiling_halvings(seed, stimulus, n, statistics.continuous)
    folds = plan.stimuli.folds(labelled_rng(seed, Stream.ENCODING_FOLDS, stimulus), encoding.folds)
    fold_of = np.empty(n, dtype=int)
    for index, fold in enumerate(folds):
        fold_of[fold] = index
    targets = np.concatenate([population.targets for population in populations], axis=1)
    halves = np.concatenate([population.halves for population in populations], axis=2)
    edges = np.cumsum([0] + [population.targets.shape[1] for population in populations])
    owners = [np.arange(start, stop) for start, stop in zip(edges[:-1], edges[1:])]
    keys = [(stimulus, population.key["area"], population.key["depth"]) for population in populations]
    cell_draws = [
        labelled_rng(seed, Stream.CELL_BOOTSTRAP, *labels).integers(0, max(len(columns), 1), size=(len(plan.draws), len(columns)))
        for labels, columns in zip(keys, owners)
    ]
    container_cells = []  # per population, per container draw: the columns of its drawn reliable cells
    for labels, population, columns in zip(keys, populations, owners):
        place = np.full(len(population.container_ids), -1)
        place[population.reliable] = columns
        draws = container_draws(labelled_rng(seed, Stream.CONTAINER_BOOTSTRAP, *labels), population.container_ids, container_bootstraps)
        container_cells.append([place[cells][place[cells] >= 0] for cells in draws])
    # The r of a perfect model of the trial means: ceiling and noise-free score at once.
    ceiling = np.array([population.ceiling() for population in populations])
    tensors = {}  # id of a Gram object → the layer positions that record it
    for position, gram in enumerate(grams):
        tensors.setdefault(id(gram), []).append(position)
    corrected = np.full((len(populations), len(grams)), np.nan)
    prediction_reliability = np.full(corrected.shape, np.nan)
    constant = np.zeros(len(grams), dtype=bool)

    def blocks():
        for positions in map(np.asarray, tensors.values()):
            gram = grams[positions[0]]
            fitted = cross_validated_predictions(gram, targets, folds, encoding, halves) if targets.shape[1] else None
            if fitted is None:
                constant[positions] = targets.shape[1] > 0
                yield None
                continue
            predictions, half_a, half_b = fitted
            block = PredictionBlock(positions, predictions, targets, fold_of, owners, cell_draws, container_cells, gram, encoding.alphas)
            # The predictions carry noise of their own, fitted to noisy training means: their
            # reliability is the Spearman–Brown split-half r of predictions fitted to each half.
            agreement = spearman_brown(_medians(fold_mean_r(half_a, half_b, fold_of), owners))
            prediction_reliability[:, positions] = agreement[:, None]
            predictions_scale = np.sqrt(np.where(agreement > 0, agreement, np.nan))
            with np.errstate(invalid="ignore", divide="ignore"):
                noise_free = _medians(block.cell_r, owners) / ceiling / predictions_scale
            corrected[:, positions] = noise_free[:, None]
            yield block

    what = f"{stimulus}, {len(populations)} population(s) × {len(grams)} layer(s): encoding models"
    counts = [len(draws) for draws in container_cells]
    resampled = resample(blocks(), len(tensors), len(populations), len(grams), 1, counts, plan, what)
    ceilings = [
        {
            "cells_reliable": len(population.reliable),
            "ceiling_noise_free": float(median),
            "ceiling_median": float(median),
            "ceiling_sd": np.nan,
            **ceiling_errors(population.ceilings_on(halvings)),
            "ceiling_splits": encoding.reliability_splits,
            "ceiling_p": population.reliability_p,
            "ceiling_p_method": (
                "one-sided; the median over the reliable cells of a split-half r on the trials that did not select "
                f"them, against the same under {plan.stimuli.relabelling_method(statistics.permutations)} of its B half"
            ),
            "ceiling_method": (
                f"√ median split-half reliability (Spearman-Brown corrected) of the cells at or above "
                f"{encoding.reliability_threshold} on a random half of each stimulus's trials, measured on the other "
                "half: the r of a perfect model of the trial means"
            ),
        }
        for population, median in zip(populations, ceiling)
    ]
    methods = plan.methods(
        statistics,
        max(counts),
        "the median over cells of the fold-mean r of a kernel ridge with its penalty per cell by generalized "
        "cross-validation (not the score's inner cross-validation), against the same refitted under {relabellings} "
        "of the responses",
    )
    methods["ci_method"] += ", the reliable cells drawn with replacement in each stimulus draw"
    table = metric_table(
        resampled, [population.key for population in populations], pathways, statistics,
        _flags(populations, constant, encoding.reliability_threshold),
        [containers_note(len(np.unique(population.container_ids))) for population in populations], ceilings, methods,
        noise_corrected=corrected,
    )  # fmt: skip
    table["prediction_reliability"] = np.ravel(prediction_reliability)
    unreliable = np.ravel(np.isfinite(prediction_reliability) & ~(prediction_reliability > 0))
    table["noise_corrected_flag"] = np.where(
        unreliable, "the layer's predictions fitted to the two trial halves do not agree (prediction_reliability ≤ 0)", ""
    )
    table["comparison"] = LABEL
    table["encoding_method"] = (
        f"kernel ridge on the layer's linear kernel (himalaya KernelRidgeCV), {plan.stimuli.fold_method(encoding.folds)}, "
        f"alpha per cell from {len(encoding.alphas)} values by {encoding.inner_folds}-fold inner cross-validation; "
        "score: median over reliable cells of the Pearson r between held-out predictions and trial means within "
        "each held-out fold, averaged over folds"
    )
    return table, resampled.resamples()
