"""Rule compare: scores of every layer of one model against every population, with their inference."""

import logging

import numpy as np
import pandas as pd

from brainlike.atomic import write_npz
from brainlike.compare import use_threads
from brainlike.devices import resolve
from brainlike.logs import to_file
from brainlike.rdm import load_rdms
from brainlike.scoring import BrainRDMs, Inference, score_layers

# Brain RDM entries held at a time (float64): populations are scored in groups of about 1 GB.
GROUP_ENTRIES = 1 << 27

to_file(snakemake.log[0])
use_threads(snakemake.threads)
params, wildcards = snakemake.params, snakemake.wildcards
model = load_rdms(snakemake.input.model[0])
layers = model.get_vectors()
descriptors = model.rdm_descriptors
settings = Inference(
    method=params.comparison,
    seed=params.seed,
    stimulus_bootstraps=params.stimulus_bootstraps,
    permutations=params.permutations,
    ci_level=params.ci_level,
    best_layer_folds=params.best_layer_folds,
    continuous=params.continuous,
    device=resolve(params.device, "rsa.device"),
)
tables, resamples, group = [], [], []


def score_group():
    logging.info("scoring %d populations", len(group))
    table, resampled = score_layers(group, layers, np.asarray(descriptors["pathway"]), settings, wildcards.stimulus)
    tables.append(table)
    resamples.append(resampled)
    group.clear()


for path in snakemake.input.brain:
    group.append(BrainRDMs.from_rsatoolbox(load_rdms(path)))
    if sum(brain.half_a.size + brain.container_bootstrap.size for brain in group) >= GROUP_ENTRIES:
        score_group()
if group:
    score_group()
table = pd.concat(tables, ignore_index=True)
position = table.pop("layer_position")
table = table.assign(
    stimulus=wildcards.stimulus,
    model=wildcards.model,
    weights=snakemake.params.weights,
    pathway=np.asarray(descriptors["pathway"])[position],
    layer=np.asarray(descriptors["layer"])[position],
    layer_index=np.asarray(descriptors["index"]).astype(int)[position],
)
LEADING = ["stimulus", "area", "depth", "model", "weights", "pathway", "layer", "layer_index"]
table = table[LEADING + [column for column in table if column not in LEADING]]
table["distance"] = model.dissimilarity_measure
flagged = table[table["score_flag"] != ""].groupby(["pathway", "layer", "score_flag"], sort=False)
for (pathway, layer, flag), rows in flagged:
    logging.warning("%s %s, %d of %d populations: %s", pathway, layer, len(rows), len(snakemake.input.brain), flag)
table.to_parquet(snakemake.output.table, index=False)
populations = table.drop_duplicates(["area", "depth"])
write_npz(
    snakemake.output.resamples,
    {
        "bootstrap": np.concatenate([part["bootstrap"] for part in resamples], axis=1),
        "halvings": np.concatenate([part["halvings"] for part in resamples], axis=2),
        "area": populations["area"].to_numpy(dtype=str),
        "depth": populations["depth"].to_numpy(dtype=int),
        "pathway": np.asarray(descriptors["pathway"], dtype=str),
        "layer": np.asarray(descriptors["layer"], dtype=str),
    },
)
