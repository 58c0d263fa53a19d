"""Benchmark: the encoding stage against a scikit-learn RidgeCV loop over cells, side by side.

One layer (118 stimuli, 4,096 features: a layer brought down to the default feature cap) and one
population of cells that read it out with noise. Both fit, for each of 5 outer folds, every cell
with the penalty chosen from 13 alphas by 5 inner folds, and predict the held-out stimuli:
brainlike.encoding (himalaya's kernel ridge on the layer's Gram matrix, every cell at once) and
scikit-learn's RidgeCV fitted cell by cell on the features (the loop a user would write). Prints
both times, their ratio (target: at least 5), each one's peak memory (tracemalloc: numpy's
allocations) and the largest difference between their predictions.

    .venvs/main/bin/python scripts/benchmarks/encoding.py [--cells 50] [--features 4096] [--stimuli 118]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

from brainlike.encoding import Encoding, cross_validated_predictions
from brainlike.rdm import stimulus_gram
from brainlike.resampling import design

ALPHAS = tuple(np.logspace(-2, 4, 13))


def sklearn_loop(features: np.ndarray, targets: np.ndarray, folds: list[np.ndarray], inner_folds: int) -> np.ndarray:
    """Each cell fitted on its own by RidgeCV, with the centring and scaling the encoding stage uses."""
    predictions = np.empty(targets.shape)
    for test in folds:
        train = np.setdiff1d(np.arange(len(features)), test)
        centred = features - features[train].mean(axis=0)
        scaled = centred / np.sqrt(np.mean((centred[train] ** 2).sum(axis=1)))
        mean = targets[train].mean(axis=0)
        for cell in range(targets.shape[1]):
            model = RidgeCV(alphas=ALPHAS, cv=KFold(inner_folds), fit_intercept=False, scoring="neg_mean_squared_error")
            model.fit(scaled[train], targets[train, cell] - mean[cell])
            predictions[test, cell] = model.predict(scaled[test]) + mean[cell]
    return predictions


def measured(function, *arguments) -> tuple[np.ndarray, float, float]:
    """Result, seconds and peak traced memory (MB) of one call."""
    tracemalloc.start()
    start = time.perf_counter()
    result = function(*arguments)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=50)
    parser.add_argument("--features", type=int, default=4096)
    parser.add_argument("--stimuli", type=int, default=118)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--inner-folds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    features = rng.normal(size=(args.stimuli, args.features)).astype(np.float32)
    readout = rng.normal(size=(args.features, args.cells)) / np.sqrt(args.features)
    targets = features @ readout * rng.uniform(0.1, 2, size=args.cells) + rng.normal(size=(args.stimuli, args.cells))
    folds = design(args.stimuli, False).folds(rng, args.folds)
    encoding = Encoding(alphas=ALPHAS, folds=args.folds, inner_folds=args.inner_folds, reliability_threshold=0.3,
                        reliability_splits=1, cell_chunk=2000)  # fmt: skip

    def ours() -> np.ndarray:
        return cross_validated_predictions(stimulus_gram(features)[0], targets, folds, encoding)[0]

    print(f"{args.stimuli} stimuli × {args.features} features, {args.cells} cells, {args.folds} outer × "
          f"{args.inner_folds} inner folds, {len(ALPHAS)} alphas")  # fmt: skip
    mine, mine_seconds, mine_peak = measured(ours)
    theirs, their_seconds, their_peak = measured(sklearn_loop, features.astype(np.float64), targets, folds, args.inner_folds)
    print(f"brainlike.encoding (himalaya, Gram matrix): {mine_seconds:8.2f} s  peak {mine_peak:8.1f} MB")
    print(f"scikit-learn RidgeCV per cell:              {their_seconds:8.2f} s  peak {their_peak:8.1f} MB")
    print(f"speed ratio: {their_seconds / mine_seconds:.1f}× (target ≥ 5×)")
    print(f"largest difference between the predictions: {np.abs(mine - theirs).max():.2e}")


if __name__ == "__main__":
    main()
