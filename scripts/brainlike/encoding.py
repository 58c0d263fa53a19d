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

A cell is reliable when its split-half reliability over trials (Spearman–Brown corrected:
``populations.split_half_reliability``) reaches the threshold; its noise-corrected r is
r / √reliability (the r of a perfect model of the trial mean). A population's score is the median
r over its reliable cells, its noise-corrected score the median noise-corrected r, its ceiling
the median √reliability. Resamples: stimulus-bootstrap draws (the RSA draws) with the reliable
cells drawn with replacement, containers drawn with replacement, halvings of the stimuli for the
held-out best layer (each scored from the same cross-validated predictions), and the permutation
p: the held-out predictions relabelled against the responses, r pooled over all stimuli (valid
but conservative, see ``PredictionBlock.p_observed``; refitting the whole cross-validation per
relabelling would be exact, at a fit per relabelling, a day per model at the reference scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .correlation import columnwise_r
from .frame import Plan, Statistics, metric_table, resample
from .populations import spearman_brown, split_half_correlations
from .rdm import container_draws, containers_note
from .resampling import Relabellings
from .seeds import Stream, labelled_rng
from .splits import half_means, random_splits

LABEL = "ridge"
# Relabellings of the held-out predictions scored per call: each costs one pass over the cells.
RELABELLING_BATCH = 1000


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
    reliability: np.ndarray  # reliable cells
    reliable: np.ndarray  # indices of the reliable cells among all cells
    container_ids: np.ndarray  # all cells
    best_reliability: float
    # p of the first split's median split-half r over all cells against the same with its B half relabelled
    reliability_p: float

    @classmethod
    def from_responses(
        cls, key: dict, responses: np.ndarray, container_ids: np.ndarray, encoding: Encoding, seed: int, stimulus: str,
        relabellings: Relabellings,
    ) -> ReliableCells:  # fmt: skip
        """``relabellings``: of the stimuli, for the p of the population's reliability."""
        labels = (stimulus, key["area"], key["depth"])
        splits = random_splits(labelled_rng(seed, Stream.RELIABILITY, *labels), encoding.reliability_splits, *responses.shape[:2])
        split_half = split_half_correlations(responses, splits)
        reliability = spearman_brown(split_half)
        reliable = np.flatnonzero(reliability >= encoding.reliability_threshold)
        return cls(
            key,
            responses[:, :, reliable].mean(axis=0),
            reliability[reliable],
            reliable,
            container_ids,
            float(np.nanmax(reliability)) if reliability.size else float("nan"),
            _reliability_p(responses, splits[0], relabellings) if len(relabellings) else float("nan"),
        )


def _reliability_p(responses: np.ndarray, split: np.ndarray, relabellings: Relabellings) -> float:
    """p of the median over all cells of one split's split-half r (0 for a cell constant in a half)
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


def cross_validated_predictions(gram: np.ndarray, targets: np.ndarray, folds: list[np.ndarray], encoding: Encoding) -> np.ndarray | None:
    """stimuli × targets: each fold's stimuli predicted by a kernel ridge fitted on the others
    (targets centred on the training stimuli, alpha per target by inner cross-validation); None
    for a constant layer."""
    from himalaya.backend import get_backend
    from himalaya.kernel_ridge import KernelRidgeCV
    from sklearn.model_selection import KFold

    backend = get_backend()
    n = len(gram)
    predictions = np.empty(targets.shape)
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
        predictions[test] = backend.to_numpy(model.predict(kernel[test])) + mean
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
        if len(population.reliability) == 0:
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


class PredictionBlock:
    """Ridge's scorers for one layer (under every pathway that records it): the held-out
    predictions of every reliable cell against its trial means, summarised per population."""

    relabelling_batch = RELABELLING_BATCH

    def __init__(self, positions: np.ndarray, predictions: np.ndarray, targets: np.ndarray, fold_of: np.ndarray,
                 owners: list[np.ndarray], cell_draws: list[np.ndarray], container_cells: list[list[np.ndarray]]):  # fmt: skip
        self.positions, self.predictions, self.targets, self.owners = positions, predictions, targets, owners
        self.fold_of, self.cell_draws, self.container_cells = fold_of, cell_draws, container_cells
        self.cell_r = fold_mean_r(predictions, targets, fold_of)

    def _at_positions(self, values: np.ndarray) -> np.ndarray:
        return np.repeat(values[..., None], len(self.positions), axis=-1)

    def per_split(self) -> np.ndarray:
        return self._at_positions(_medians(self.cell_r, self.owners)[:, None])

    def on_draw(self, index: int, draw: np.ndarray) -> np.ndarray:
        """The reliable cells are drawn with replacement too (the cell bootstrap of each population)."""
        drawn_r = fold_mean_r(self.predictions, self.targets, self.fold_of, draw)
        medians = [np.median(drawn_r[columns][cells[index]]) if len(columns) else np.nan
                   for columns, cells in zip(self.owners, self.cell_draws)]  # fmt: skip
        return self._at_positions(np.asarray(medians))

    def p_observed(self, window: np.ndarray) -> np.ndarray:
        """The median over cells of r pooled over all stimuli. Relabelling the held-out predictions
        does not reproduce the dependence between folds that fitting creates (each fold's model is
        fitted on the others' responses), so no relabelling null of the fold-wise r is exact: within
        folds it is too narrow (p ≤ 0.05 in 17 % of null data); pooled over all stimuli the
        observed r is shifted down by each fold's training mean while the relabelled one is not,
        which makes this p valid but conservative. An exact p would refit per relabelling."""
        return self._at_positions(_medians(columnwise_r(self.predictions[window], self.targets[window]), self.owners))

    def on_relabellings(self, window: np.ndarray, orders: np.ndarray) -> np.ndarray:
        """The pooled r with the held-out predictions relabelled (not refitted)."""
        targets = self.targets[window]
        null = np.stack([_medians(columnwise_r(self.predictions[order], targets), self.owners) for order in orders])
        return self._at_positions(null)

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
    folds = plan.stimuli.folds(labelled_rng(seed, Stream.ENCODING_FOLDS, stimulus), encoding.folds)
    fold_of = np.empty(n, dtype=int)
    for index, fold in enumerate(folds):
        fold_of[fold] = index
    targets = np.concatenate([population.targets for population in populations], axis=1)
    edges = np.cumsum([0] + [population.targets.shape[1] for population in populations])
    owners = [np.arange(start, stop) for start, stop in zip(edges[:-1], edges[1:])]
    scale = np.sqrt(np.concatenate([population.reliability for population in populations]))
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
    tensors = {}  # id of a Gram object → the layer positions that record it
    for position, gram in enumerate(grams):
        tensors.setdefault(id(gram), []).append(position)
    corrected = np.full((len(populations), len(grams)), np.nan)
    constant = np.zeros(len(grams), dtype=bool)

    def blocks():
        for positions in map(np.asarray, tensors.values()):
            gram = grams[positions[0]]
            predictions = cross_validated_predictions(gram, targets, folds, encoding) if targets.shape[1] else None
            if predictions is None:
                constant[positions] = targets.shape[1] > 0
                yield None
                continue
            block = PredictionBlock(positions, predictions, targets, fold_of, owners, cell_draws, container_cells)
            corrected[:, positions] = _medians(block.cell_r / scale, owners)[:, None]
            yield block

    what = f"{stimulus}, {len(populations)} population(s) × {len(grams)} layer(s): encoding models"
    counts = [len(draws) for draws in container_cells]
    resampled = resample(blocks(), len(tensors), len(populations), len(grams), 1, counts, plan, what)
    # The median √reliability is the r of a perfect model of the trial means: ceiling and noise-free score at once.
    medians = [float(np.median(np.sqrt(population.reliability))) if len(population.reliability) else np.nan
               for population in populations]  # fmt: skip
    ceilings = [
        {
            "cells_reliable": len(population.reliability),
            "ceiling_noise_free": median,
            "ceiling_median": median,
            "ceiling_sd": np.nan,
            "ceiling_splits": encoding.reliability_splits,
            "ceiling_p": population.reliability_p,
            "ceiling_p_method": (
                "one-sided; the median over all cells of the first split's split-half r against the same under "
                f"{plan.stimuli.relabelling_method(statistics.permutations)} of its B half"
            ),
            "ceiling_method": (
                f"median √(split-half reliability, Spearman-Brown corrected) over the cells at or above "
                f"{encoding.reliability_threshold}: the r of a perfect model of the trial means"
            ),
        }
        for population, median in zip(populations, medians)
    ]
    methods = plan.methods(
        statistics,
        max(counts),
        "the median over cells of r pooled over all stimuli against the same with the held-out predictions "
        "relabelled by {relabellings}, not refitted (valid but conservative: the pooled r of held-out predictions "
        "is shifted down by each fold's training mean; the score, r within each fold averaged, is not)",
    )
    methods["ci_method"] += ", the reliable cells drawn with replacement in each stimulus draw"
    table = metric_table(
        resampled, [population.key for population in populations], pathways, statistics,
        _flags(populations, constant, encoding.reliability_threshold),
        [containers_note(len(np.unique(population.container_ids))) for population in populations], ceilings, methods,
        noise_corrected=corrected,
    )  # fmt: skip
    table["comparison"] = LABEL
    table["encoding_method"] = (
        f"kernel ridge on the layer's linear kernel (himalaya KernelRidgeCV), {plan.stimuli.fold_method(encoding.folds)}, "
        f"alpha per cell from {len(encoding.alphas)} values by {encoding.inner_folds}-fold inner cross-validation; "
        "score: median over reliable cells of the Pearson r between held-out predictions and trial means within "
        "each held-out fold, averaged over folds"
    )
    return table, resampled.resamples()
