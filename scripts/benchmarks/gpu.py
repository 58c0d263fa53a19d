"""Device checks: the accelerator path against the CPU path on the same inputs, in one short run.

(a) Kendall τ-a and τ-b counted by torch on ``--device`` against the numba counts on the CPU: 24
    populations × 100 half-trial RDMs against 150 layer RDMs at 118 stimuli, 4 × 25 RDMs at 900
    stimuli and weighted stimulus-bootstrap draws; the largest difference (both count integers,
    so 0) and the comparisons per second of each.
(b) The permutation p of one reference-scale compare job on the device (every relabelling of
    the 150 layers against the all-trial RDMs of 24 populations): ``--job-permutations`` of the
    default 1000 relabellings timed and projected to all of them.
(c) Extraction of a random-initialised torchvision ResNet-18 (no download) on the device against
    the CPU on the same frames: per recorded layer, the largest difference relative to the
    layer's largest value and τ-a between the two correlation-distance RDMs; images per second.
(d) Encoding: himalaya's torch backend on the device against its numpy backend (one layer at 118
    stimuli, ``--cells`` cells): the largest difference of the predictions and each one's time.

On a GPU machine (what its python lacks of the project's dependencies carried as wheels):
    PYTHONPATH=scripts python3 scripts/benchmarks/gpu.py --device cuda
Here, the same code on torch's CPU backend checks the script itself:
    .venvs/main/bin/python scripts/benchmarks/gpu.py --device cpu --quick
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
import torch

from brainlike.activations import iter_activations
from brainlike.compare import compare
from brainlike.encoding import Encoding, cross_validated_predictions, use_device
from brainlike.inference import bootstrap_pairs
from brainlike.models import load_model
from brainlike.rdm import containers_note, rdms_from_pattern_stack, upper
from brainlike.resampling import Exchangeable
from brainlike.rsa import BrainRDMs, RDMBlock
from rsa import rdm_vectors  # the RSA benchmark's RDM generator (this script's folder is on the path)


def synchronised(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(function, device: str):
    synchronised(device)
    start = time.perf_counter()
    result = function()
    synchronised(device)
    return result, time.perf_counter() - start


def kendall(rng: np.random.Generator, device: str, sizes: dict) -> None:
    workloads = {
        "118 stimuli": (rdm_vectors(rng, sizes["references"], 118), rdm_vectors(rng, sizes["layers"], 118), None),
        "900 stimuli": (rdm_vectors(rng, sizes["references_900"], 900), rdm_vectors(rng, sizes["layers_900"], 900), None),
    }
    draw = Exchangeable(118).bootstrap_draws(rng, 1)[0]
    positions, weights = bootstrap_pairs(draw, 118)
    brain, layers, _ = workloads["118 stimuli"]
    workloads["118 stimuli, one bootstrap draw (weighted)"] = (brain[:, positions], layers[:, positions], weights)
    for method in ("tau-a", "tau-b"):
        compare(brain[:1, :50], layers[:1, :50], method, device=device)  # compile and warm up outside the timing
        compare(brain[:1, :50], layers[:1, :50], method)
        for name, (references, others, weights) in workloads.items():
            on_device, device_seconds = timed(lambda: compare(references, others, method, device, weights), device)
            on_cpu, cpu_seconds = timed(lambda: compare(references, others, method, None, weights), "cpu")
            print(
                f"{method}, {name}, {on_cpu.size:,} comparisons: {device} {on_cpu.size / device_seconds:,.0f}/s, "
                f"CPU (numba) {on_cpu.size / cpu_seconds:,.0f}/s, ratio {cpu_seconds / device_seconds:.1f}x; "
                f"largest difference {np.abs(on_device - on_cpu).max():.1e}",
                flush=True,
            )


def permutation_stage(rng: np.random.Generator, device: str, sizes: dict, relabellings: int) -> None:
    brain = rdm_vectors(rng, sizes["populations"] * 100, 118).reshape(sizes["populations"], 100, -1)
    layers = rdm_vectors(rng, sizes["layers"], 118)
    drawn = Exchangeable(118).relabellings(rng, relabellings)
    score = partial(compare, method="tau-a", device=device)
    populations = [BrainRDMs({"area": str(index), "depth": 0}, half_a, half_a[:0], containers_note(1), half_a[0]) for index, half_a in enumerate(brain)]
    block = RDMBlock(score, populations, layers, np.arange(len(layers)))

    def null():
        for start in range(0, len(drawn), block.relabelling_batch):
            block.on_relabellings(drawn.window, drawn.orders[start : start + block.relabelling_batch])

    _, seconds = timed(null, device)
    print(
        f"permutation p of a compare job ({len(brain)} populations x {len(layers)} layers against the all-trial RDMs, "
        f"118 stimuli) on {device}: {seconds:.1f} s for {relabellings} relabellings, "
        f"{seconds * 1000 / relabellings:.0f} s projected for the default 1000",
        flush=True,
    )


def extraction(device: str, frames: int) -> None:
    blocks = [f"layer{stage}.{block}" for stage in range(1, 5) for block in range(2)]
    entry = {"family": "torchvision", "variant": "resnet18", "weights": {"random_seed": 0},
             "input": {"size": 224, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
             "pathways": {"main": blocks}}  # fmt: skip
    images = np.random.default_rng(0).integers(0, 256, size=(frames, 304, 608), dtype=np.uint8)
    groups = np.arange(frames)

    def record(where: str) -> dict:
        model = load_model("resnet18", entry)
        batches = list(iter_activations(model, images, groups, 32, torch.device(where)))
        return {key: np.concatenate([batch[key] for _, batch in batches]) for key in batches[0][1]}

    record(device)  # warm-up: kernels chosen, memory allocated
    on_device, device_seconds = timed(lambda: record(device), device)
    on_cpu, cpu_seconds = timed(lambda: record("cpu"), "cpu")
    print(f"extraction, ResNet-18 (random initialisation), {frames} frames: {device} {frames / device_seconds:.1f} images/s, "
          f"CPU {frames / cpu_seconds:.1f} images/s")  # fmt: skip
    for key, values in on_cpu.items():
        relative = np.abs(on_device[key] - values).max() / np.abs(values).max()
        rdms = upper(rdms_from_pattern_stack(np.stack([values, on_device[key]]).astype(np.float64)))
        agreement = compare(rdms[:1], rdms[1:], "tau-a")[0, 0]
        print(f"  {'/'.join(key)}: largest difference {relative:.1e} of the largest value; tau-a of the RDMs {agreement:.6f}")


def encoding(device: str, cells: int) -> None:
    rng = np.random.default_rng(2)
    features = rng.normal(size=(118, 512))
    targets = features @ rng.normal(size=(512, cells)) * np.logspace(-2, 0.5, cells) + rng.normal(size=(118, cells))
    settings = Encoding(alphas=tuple(np.logspace(-2, 4, 13)), folds=5, inner_folds=5, reliability_threshold=0.3,
                        reliability_splits=100, cell_chunk=cells)  # fmt: skip
    folds = Exchangeable(118).folds(rng, settings.folds)
    fit = partial(cross_validated_predictions, features @ features.T, targets, folds, settings)
    expected, cpu_seconds = timed(fit, "cpu")
    try:
        use_device(device)
        fit()  # warm-up
        on_device, device_seconds = timed(fit, device)
    finally:
        use_device(None)
    print(f"encoding, 118 stimuli x {cells:,} cells: {device} {device_seconds:.2f} s, CPU (numpy) {cpu_seconds:.2f} s; "
          f"largest difference of the predictions {np.abs(on_device - expected).max():.1e}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="a torch device: cuda, cuda:1, or cpu to check the script")
    parser.add_argument("--quick", action="store_true", help="small sizes (a check of the script, not a measurement)")
    parser.add_argument("--job-permutations", type=int, default=20, help="relabellings timed in (b)")
    parser.add_argument("--frames", type=int, default=256, help="frames extracted in (c)")
    parser.add_argument("--cells", type=int, default=6000, help="cells fitted in (d)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    sizes = (
        {"references": 20, "layers": 15, "references_900": 1, "layers_900": 2, "populations": 2}
        if args.quick
        else {"references": 2400, "layers": 150, "references_900": 4, "layers_900": 25, "populations": 24}
    )
    print(f"device {args.device}" + (f" ({torch.cuda.get_device_name(args.device)})" if args.device.startswith("cuda") else ""))
    rng = np.random.default_rng(0)
    kendall(rng, args.device, sizes)
    permutation_stage(rng, args.device, sizes, 1 if args.quick else args.job_permutations)
    extraction(args.device, 8 if args.quick else args.frames)
    encoding(args.device, 50 if args.quick else args.cells)


if __name__ == "__main__":
    main()
