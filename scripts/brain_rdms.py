"""Rule brain_rdms: RDMs of both halves of every random trial split of one population."""

import numpy as np

from brainlike.logs import to_file
from brainlike.rdm import save_rdms, split_half_rdms
from brainlike.seeds import labelled_rng

to_file(snakemake.log[0])
population = np.load(snakemake.input.responses[0])
wildcards = snakemake.wildcards
rng = labelled_rng(snakemake.params.seed, wildcards.stimulus, wildcards.area, wildcards.depth)
halves_a, halves_b = split_half_rdms(population["responses"], snakemake.params.splits, rng)
splits = np.arange(snakemake.params.splits)
save_rdms(
    snakemake.output[0],
    np.concatenate([halves_a, halves_b]),
    rdm_descriptors={"half": ["a"] * len(splits) + ["b"] * len(splits), "split": np.concatenate([splits, splits])},
    descriptors={
        "stimulus": wildcards.stimulus,
        "area": wildcards.area,
        "depth": int(wildcards.depth),
        "trials": population["responses"].shape[0],
        "cells": population["responses"].shape[2],
        "containers": len(np.unique(population["container_id"])),
    },
)
