"""Rule cka: debiased linear CKA of every layer of one model with every population."""

import numpy as np

from brainlike.activations import open_layers
from brainlike.atomic import write_npz
from brainlike.cka import Population, centre_gram, cka_layers
from brainlike.logs import to_file
from brainlike.rdm import stimulus_gram
from brainlike.scoring import Inference, labelled_table, resample_arrays
from brainlike.splits import population_splits

to_file(snakemake.log[0])
params, wildcards = snakemake.params, snakemake.wildcards
root, layers = open_layers(snakemake.input.store)
# A tensor recorded under several pathways is one Gram matrix.
grams = {}
for layer in layers:
    if layer["layer"] not in grams:
        grams[layer["layer"]] = centre_gram(stimulus_gram(root[f"{layer['pathway']}/{layer['layer']}"])[0])
settings = Inference(
    method="cka",
    seed=params.seed,
    stimulus_bootstraps=params.stimulus_bootstraps,
    permutations=params.permutations,
    ci_level=params.ci_level,
    best_layer_folds=params.best_layer_folds,
    continuous=params.continuous,
)
populations = []
for (area, depth), path in zip(params.populations, snakemake.input.responses):
    with np.load(path) as population:
        responses = population["responses"]
        splits = population_splits(params.seed, params.splits, wildcards.stimulus, area, depth, *responses.shape[:2])
        populations.append(Population({"area": area, "depth": int(depth)}, responses, population["container_id"], splits))
table, resamples = cka_layers(
    populations, np.stack([grams[layer["layer"]] for layer in layers]), np.asarray([layer["pathway"] for layer in layers]),
    settings, wildcards.stimulus, params.container_bootstraps,
)  # fmt: skip
table = labelled_table(table, layers, wildcards.stimulus, wildcards.model, params.weights)
table["metric"] = "cka"
table.to_parquet(snakemake.output.table, index=False)
write_npz(snakemake.output.resamples, resample_arrays(resamples, table, layers))
