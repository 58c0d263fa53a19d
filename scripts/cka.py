"""Rule cka: debiased linear CKA of every layer of one model with every population."""

import numpy as np

from brainlike.atomic import write_npz
from brainlike.cka import HalfTrialGrams, centre_gram, cka_layers
from brainlike.depths import depth_value
from brainlike.frame import Statistics, labelled_table, resample_arrays
from brainlike.logs import to_file
from brainlike.splits import population_splits
from brainlike.stores import layer_grams

to_file(snakemake.log[0])
params, wildcards = snakemake.params, snakemake.wildcards
layers, grams = layer_grams(snakemake.input.store)
statistics = Statistics.from_params(params)
populations = []
for (area, depth), path in zip(params.populations, snakemake.input.responses):
    with np.load(path) as population:
        responses = population["responses"]
        splits = population_splits(params.seed, params.splits, wildcards.stimulus, area, depth, *responses.shape[:2])
        populations.append(HalfTrialGrams({"area": area, "depth": depth_value(depth)}, responses, population["container_id"], splits))
table, resamples = cka_layers(
    populations, centre_gram(np.stack(grams)), np.asarray([layer["pathway"] for layer in layers]),
    statistics, wildcards.stimulus, params.container_bootstraps,
)  # fmt: skip
table = labelled_table(table, layers, wildcards.stimulus, wildcards.model, params.weights, "cka")
table.to_parquet(snakemake.output.table, index=False)
write_npz(snakemake.output.resamples, resample_arrays(resamples, table, layers))
