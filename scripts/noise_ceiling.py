"""Rule noise_ceiling: split-half ceiling (with its permutation p and standard error) and between-animal bounds of one population."""

import json

import numpy as np

from brainlike.compare import use_threads
from brainlike.depths import depth_value
from brainlike.devices import resolve
from brainlike.logs import to_file
from brainlike.noise_ceiling import between_animal, split_half
from brainlike.rdm import load_rdms
from brainlike.resampling import ceiling_halvings, ceiling_relabellings, design

to_file(snakemake.log[0])
use_threads(snakemake.threads)
params, wildcards = snakemake.params, snakemake.wildcards
device = resolve(params.device.value, "statistics.device")
rdms = load_rdms(snakemake.input.brain[0])
kinds = np.asarray(rdms.rdm_descriptors["kind"])
vectors = rdms.get_vectors()
permutations = ceiling_relabellings(params.seed, params.permutations, wildcards.stimulus, wildcards.area, wildcards.depth,
                                    rdms.n_cond, params.continuous)  # fmt: skip
stimuli = design(rdms.n_cond, params.continuous)
summary = {
    "stimulus": wildcards.stimulus,
    "area": wildcards.area,
    "depth": depth_value(wildcards.depth),
    **split_half(
        vectors[kinds == "half_a"],
        vectors[kinds == "half_b"],
        params.comparison,
        params.spearman_brown,
        permutations,
        ceiling_halvings(params.seed, wildcards.stimulus, rdms.n_cond, params.continuous),
        device,
    ),
    "ceiling_p_method": (
        f"one-sided; the first split's {params.comparison} between its halves against the same under "
        f"{stimuli.relabelling_method(len(permutations))} of its B half"
    ),
    **between_animal(vectors[kinds == "container"], params.comparison, device),
}
with open(snakemake.output[0], "w") as handle:
    json.dump(summary, handle, indent=1)
