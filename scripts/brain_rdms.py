"""Rule brain_rdms: every brain RDM of one population (split halves, all trials, per container, container bootstrap)."""

import numpy as np

from brainlike.depths import depth_value
from brainlike.logs import to_file
from brainlike.rdm import population_rdms, save_rdms
from brainlike.seeds import Stream, labelled_rng
from brainlike.splits import population_splits

to_file(snakemake.log[0])
population = np.load(snakemake.input.responses)
wildcards, params = snakemake.wildcards, snakemake.params
responses = population["responses"]
splits = population_splits(params.seed, params.splits, wildcards.stimulus, wildcards.area, wildcards.depth, *responses.shape[:2])
rdms, rdm_descriptors = population_rdms(
    responses,
    population["container_id"],
    splits,
    params.distance,
    labelled_rng(params.seed, Stream.CONTAINER_BOOTSTRAP, wildcards.stimulus, wildcards.area, wildcards.depth),
    params.container_bootstraps,
)
save_rdms(
    snakemake.output[0],
    rdms,
    rdm_descriptors=rdm_descriptors,
    descriptors={
        "stimulus": wildcards.stimulus,
        "area": wildcards.area,
        "depth": depth_value(wildcards.depth),
        "trials": responses.shape[0],
        "cells": responses.shape[2],
        "containers": len(np.unique(population["container_id"])),
    },
    distance=params.distance,
)
