"""Rule brain_rdms: RDMs of both halves of every random trial split of one population."""

import numpy as np

from brainlike.logs import to_file
from brainlike.rdm import save_rdms, split_half_rdms
from brainlike.seeds import labelled_rng
from brainlike.splits import random_splits

to_file(snakemake.log[0])
population = np.load(snakemake.input.responses[0])
wildcards = snakemake.wildcards
rng = labelled_rng(snakemake.params.seed, wildcards.stimulus, wildcards.area, wildcards.depth)
responses = population["responses"]
splits = random_splits(rng, snakemake.params.splits, responses.shape[0], responses.shape[1])
halves_a, halves_b = split_half_rdms(responses, splits)
split_ids = np.arange(snakemake.params.splits)
save_rdms(
    snakemake.output[0],
    np.concatenate([halves_a, halves_b]),
    rdm_descriptors={"half": ["a"] * len(split_ids) + ["b"] * len(split_ids), "split": np.tile(split_ids, 2)},
    descriptors={
        "stimulus": wildcards.stimulus,
        "area": wildcards.area,
        "depth": int(wildcards.depth),
        "trials": responses.shape[0],
        "cells": responses.shape[2],
        "containers": len(np.unique(population["container_id"])),
    },
)
