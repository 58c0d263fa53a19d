"""Benchmark: RSA statistics against rsatoolbox, side by side on the same inputs, in one run.

(a) Kendall τ-a throughput (pairs of RDMs per second) of ``brainlike.compare`` against rsatoolbox's
    ``compare(method="tau-a")``, and against the counting lower bound: one sort of every RDM
    vector, then per pair the other's ranks laid out in the reference's order and one linear merge
    pass over them (the least any count over all pairs does after sorting; a full count needs
    log2(pairs) such passes or tree steps per element):
    - 118 stimuli (6,903 pairs per RDM): 24 populations × 100 half-trial brain RDMs against 150
      layer RDMs (360,000 comparisons). rsatoolbox runs on the first ``--rsatoolbox-populations``
      populations (all 24 with --full; about 6 minutes here);
    - 900 stimuli (404,550 pairs per RDM): 4 brain × 25 layer RDMs on both.
    Values are compared on every pair both computed.
(b) RDM of one 900 × 800,000 float32 layer: ours reads it from a zarr store in column chunks,
    rsatoolbox's ``calc_rdm(method="correlation")`` gets it in memory. Each runs in its own
    process; wall time and peak resident memory of each, their ratios (targets: memory ≤ 1/4 of
    rsatoolbox's, time no slower). Needs about 3 GB of disk and 12 GB of memory.
(c) Stimulus-bootstrap draws at 118 stimuli (24 populations × 150 layers per draw): each drawn
    pair once with its multiplicity as weight against the draw's RDM vectors with the repeated
    pairs written out (ties in every comparison); time of each, their ratio, equality.
(d) One ``compare`` job of the reference grid with the default inference settings: 24 populations ×
    150 layers at 118 stimuli, 100 half-trial RDMs, 200 stimulus and 200 container bootstrap draws,
    1000 relabellings (each compared with the all-trial RDM), 20 stimulus halvings: the wall time
    of each stage and of the job (target: at most 120 s on the 2-core test machine).

    .venvs/main/bin/python scripts/benchmarks/rsa.py [--full] [--skip-rdm] [--skip-job]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit, prange

from brainlike.compare import _dense_ranks, _sorted_groups, compare
from brainlike.inference import bootstrap_pairs
from brainlike.rdm import rdms_from_pattern_stack, upper
from brainlike.resampling import Exchangeable
from brainlike.frame import Statistics
from brainlike.rsa import BrainRDMs, RDMBlock, score_layers


def rdm_vectors(rng: np.random.Generator, count: int, n_stimuli: int, features: int = 40) -> np.ndarray:
    """Correlation-distance RDM vectors of ReLU-like random patterns (continuous, like real ones)."""
    vectors = []
    for start in range(0, count, 100):
        patterns = np.maximum(rng.normal(0.3, 1.0, (min(100, count - start), n_stimuli, features)), 0)
        vectors.append(upper(rdms_from_pattern_stack(patterns)))
    return np.concatenate(vectors)


def rsatoolbox_tau_a(brain: np.ndarray, layers: np.ndarray) -> np.ndarray:
    from rsatoolbox.rdm import RDMs
    from rsatoolbox.rdm import compare as rsatoolbox_compare

    return rsatoolbox_compare(RDMs(brain), RDMs(layers), method="tau-a")


@njit(cache=True, parallel=True)
def _one_merge_pass(orders, ranks):
    """Per pair: the other's ranks in the reference's order, then one merge of the two halves."""
    n_references, n = orders.shape
    n_others = ranks.shape[0]
    passed = np.zeros(n_references * n_others, np.int64)
    for pair in prange(n_references * n_others):
        order, rank = orders[pair // n_others], ranks[pair % n_others]
        sequence = np.empty(n, np.int32)
        for k in range(n):
            sequence[k] = rank[order[k]]
        i, j, middle, count = 0, n // 2, n // 2, 0
        while i < middle and j < n:
            if sequence[j] < sequence[i]:
                count += middle - i
                j += 1
            else:
                i += 1
        passed[pair] = count
    return passed


def lower_bound_seconds(references: np.ndarray, others: np.ndarray) -> float:
    """One sort of every vector, one gather and merge pass per pair (see the module's docstring)."""
    ones = np.ones(references.shape[1], np.int64)
    _one_merge_pass(*[part[:1] for part in (_sorted_groups(references[:1], ones)[0], _dense_ranks(others[:1], ones)[0])])
    start = time.perf_counter()
    orders = _sorted_groups(references, ones)[0]
    ranks = _dense_ranks(others, ones)[0]
    _one_merge_pass(orders, ranks)
    return time.perf_counter() - start


def tau_throughput(name: str, brain: np.ndarray, layers: np.ndarray, rsatoolbox_rows: int) -> None:
    compare(brain[:1, :100], layers[:1, :100])  # compile outside the timing
    start = time.perf_counter()
    ours = compare(brain, layers, "tau-a")
    ours_seconds = time.perf_counter() - start
    bound = lower_bound_seconds(brain, layers)
    start = time.perf_counter()
    theirs = rsatoolbox_tau_a(brain[:rsatoolbox_rows], layers)
    theirs_seconds = time.perf_counter() - start
    ours_rate = ours.size / ours_seconds
    theirs_rate = theirs.size / theirs_seconds
    difference = np.abs(ours[:rsatoolbox_rows] - theirs).max()
    print(
        f"{name}: brainlike {ours.size} comparisons in {ours_seconds:.2f} s ({ours_rate:,.0f}/s); "
        f"rsatoolbox {theirs.size} in {theirs_seconds:.2f} s ({theirs_rate:,.0f}/s); "
        f"ratio {ours_rate / theirs_rate:.1f}x; largest difference {difference:.1e}; counting lower bound "
        f"{bound:.2f} s (brainlike takes {ours_seconds / bound:.1f}x the bound)",
        flush=True,
    )


def weighted_bootstrap(rng: np.random.Generator, brain: np.ndarray, layers: np.ndarray, draws: int) -> None:
    references = brain.reshape(24, 100, -1)[:, 0]
    weighted_seconds = repeated_seconds = 0.0
    difference = 0.0
    for draw in Exchangeable(118).bootstrap_draws(rng, draws):
        positions, weights = bootstrap_pairs(draw, 118)
        repeated = np.repeat(positions, weights)
        start = time.perf_counter()
        weighted = compare(references[:, positions], layers[:, positions], weights=weights)
        weighted_seconds += time.perf_counter() - start
        start = time.perf_counter()
        written_out = compare(references[:, repeated], layers[:, repeated])
        repeated_seconds += time.perf_counter() - start
        difference = max(difference, np.abs(weighted - written_out).max())
    print(
        f"stimulus bootstrap, {draws} draws x 24 populations x 150 layers at 118 stimuli: weighted pairs "
        f"{weighted_seconds:.2f} s, repeated pairs written out {repeated_seconds:.2f} s, ratio "
        f"{repeated_seconds / weighted_seconds:.1f}x; largest difference {difference:.1e}",
        flush=True,
    )


def rdm_child(mode: str, store: str) -> None:
    """One RDM in this process; prints seconds, peak RSS and the vector's checksum as JSON."""
    import zarr

    array = zarr.open_array(store, mode="r")
    if mode == "brainlike":
        from brainlike.rdm import rdm_from_patterns

        start = time.perf_counter()
        vector = upper(rdm_from_patterns(array, "correlation"))
    else:
        from rsatoolbox.data import Dataset
        from rsatoolbox.rdm import calc_rdm

        in_memory = array[:]
        start = time.perf_counter()
        vector = calc_rdm(Dataset(in_memory), method="correlation").get_vectors()[0]
    seconds = time.perf_counter() - start
    np.save(Path(store).with_suffix(f".{mode}.npy"), vector)
    # VmHWM: this process image's own peak (ru_maxrss would carry the parent's over fork and exec).
    status = Path("/proc/self/status").read_text()
    peak = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak}))


def rdm_memory(rows: int, columns: int) -> None:
    import zarr

    with tempfile.TemporaryDirectory() as folder:
        store = str(Path(folder) / "layer.zarr")
        array = zarr.open_array(store, mode="w", shape=(rows, columns), chunks=(32, 1 << 16), dtype="float32")
        rng = np.random.default_rng(0)
        for start in range(0, rows, 32):
            block = rng.normal(size=(min(32, rows - start), columns)).astype(np.float32)
            array[start : start + len(block)] = np.maximum(block, 0)
        results = {}
        for mode in ("brainlike", "rsatoolbox"):
            output = subprocess.run(
                [sys.executable, __file__, "--rdm-child", mode, store], check=True, capture_output=True, text=True
            ).stdout
            results[mode] = json.loads(output.strip().splitlines()[-1])
        ours, theirs = results["brainlike"], results["rsatoolbox"]
        vectors = {mode: np.load(Path(store).with_suffix(f".{mode}.npy")) for mode in results}
        difference = np.abs(vectors["brainlike"] - vectors["rsatoolbox"]).max()
        print(
            f"RDM of a {rows} x {columns:,} float32 layer: brainlike (from zarr) {ours['seconds']:.1f} s, "
            f"peak {ours['peak_mb']:,.0f} MB; rsatoolbox (in memory) {theirs['seconds']:.1f} s, "
            f"peak {theirs['peak_mb']:,.0f} MB; memory ratio {ours['peak_mb'] / theirs['peak_mb']:.2f}, "
            f"time ratio {ours['seconds'] / theirs['seconds']:.2f}; largest difference {difference:.1e} "
            f"(rsatoolbox computes in the input's float32)",
            flush=True,
        )


def compare_job(rng: np.random.Generator, brain: np.ndarray, layers: np.ndarray) -> None:
    populations = [
        BrainRDMs({"area": f"area{index}", "depth": 175}, half_a, rdm_vectors(rng, 200, 118), containers_note="",
                  all_trials=half_a.mean(axis=0))
        for index, half_a in enumerate(brain.reshape(24, 100, -1))
    ]
    stages = {"stimulus bootstrap": "on_draw", "permutation p": "on_relabellings", "halvings": "on_half"}
    seconds = dict.fromkeys(stages, 0.0)

    def timed(stage, function):
        def run(*args, **kwargs):
            start = time.perf_counter()
            result = function(*args, **kwargs)
            seconds[stage] += time.perf_counter() - start
            return result

        return run

    originals = {name: getattr(RDMBlock, name) for name in stages.values()}
    for stage, name in stages.items():
        setattr(RDMBlock, name, timed(stage, originals[name]))
    statistics = Statistics(seed=0, stimulus_bootstraps=200, permutations=1000, ci_level=0.95, best_layer_folds=20)
    try:
        start = time.perf_counter()
        score_layers(populations, layers, np.repeat(["p1", "p2"], 75), statistics, "tau-a", "natural_scenes")
        total = time.perf_counter() - start
    finally:
        for name, function in originals.items():
            setattr(RDMBlock, name, function)
    print(
        "one compare job (24 populations x 150 layers, 118 stimuli, default inference): "
        + ", ".join(f"{stage} {seconds[stage]:.1f} s" for stage in stages)
        + f", the rest (scores, container draws, table) {total - sum(seconds.values()):.1f} s; job {total:.1f} s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="rsatoolbox on the whole 118-stimulus grid too")
    parser.add_argument("--rsatoolbox-populations", type=int, default=1, choices=range(1, 25), metavar="1..24")
    parser.add_argument("--skip-rdm", action="store_true", help="leave out (b)")
    parser.add_argument("--skip-job", action="store_true", help="leave out (d)")
    parser.add_argument("--rdm-columns", type=int, default=800_000)
    parser.add_argument("--bootstrap-draws", type=int, default=20, help="draws timed in (c)")
    parser.add_argument("--rdm-child", nargs=2, metavar=("MODE", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rdm_child:
        rdm_child(*args.rdm_child)
        return
    rng = np.random.default_rng(0)
    populations, resamples = 24, 100
    brain = rdm_vectors(rng, populations * resamples, 118)
    layers = rdm_vectors(rng, 150, 118)
    rows = populations * resamples if args.full else args.rsatoolbox_populations * resamples
    tau_throughput("tau-a, 118 stimuli", brain, layers, rows)
    tau_throughput("tau-a, 900 stimuli", rdm_vectors(rng, 4, 900), rdm_vectors(rng, 25, 900), 4)
    if not args.skip_rdm:
        rdm_memory(900, args.rdm_columns)
    weighted_bootstrap(rng, brain, layers, args.bootstrap_draws)
    if not args.skip_job:
        compare_job(rng, brain, layers)


if __name__ == "__main__":
    main()
