"""Rule compare: scores of every layer of one model against every population, with their inference."""

import logging

import numpy as np
import pandas as pd

from brainlike.compare import use_threads
from brainlike.logs import to_file
from brainlike.rdm import load_rdms
from brainlike.scoring import BrainRDMs, Inference, score_layers

# Brain RDM entries held at a time (float64): populations are scored in groups of about 1 GB.
GROUP_ENTRIES = 1 << 27

to_file(snakemake.log[0])
use_threads(snakemake.threads)
rsa, wildcards = snakemake.params.rsa, snakemake.wildcards
model = load_rdms(snakemake.input.model[0])
layers = model.get_vectors()
descriptors = model.rdm_descriptors
settings = Inference(
    method=rsa["comparison"],
    seed=rsa["seed"],
    stimulus_bootstraps=rsa["stimulus_bootstraps"],
    permutations=rsa["permutations"],
    ci_level=rsa["ci_level"],
    best_layer_folds=rsa["best_layer_folds"],
    device=rsa["device"],
)
tables, group = [], []


def score_group():
    logging.info("scoring %d populations", len(group))
    tables.append(score_layers(group, layers, np.asarray(descriptors["pathway"]), settings, wildcards.stimulus))
    group.clear()


for path in snakemake.input.brain:
    group.append(BrainRDMs.from_rsatoolbox(load_rdms(path)))
    if sum(brain.half_a.size + brain.container_bootstrap.size for brain in group) >= GROUP_ENTRIES:
        score_group()
if group:
    score_group()
table = pd.concat(tables, ignore_index=True)
position = table.pop("layer_position")
table.insert(0, "stimulus", wildcards.stimulus)
table.insert(3, "model", wildcards.model)
table.insert(4, "weights", snakemake.params.weights)
for column, key in (("pathway", "pathway"), ("layer", "layer"), ("layer_index", "index")):
    table.insert(5 + ["pathway", "layer", "layer_index"].index(column), column, np.asarray(descriptors[key])[position])
table["layer_index"] = table["layer_index"].astype(int)
table["distance"] = model.dissimilarity_measure
table.to_parquet(snakemake.output[0], index=False)
