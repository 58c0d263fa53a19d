"""Rule compare: RSA scores of every layer of one model against every population, with their inference."""

import numpy as np
import pandas as pd

from brainlike.atomic import write_npz
from brainlike.compare import use_threads
from brainlike.devices import resolve
from brainlike.logs import to_file
from brainlike.rdm import load_rdms
from brainlike.scoring import BrainRDMs, Inference, labelled_table, resample_arrays, score_layers

# Brain RDM entries held at a time (float64): populations are scored in groups of about 1 GB.
GROUP_ENTRIES = 1 << 27

to_file(snakemake.log[0])
use_threads(snakemake.threads)
params, wildcards = snakemake.params, snakemake.wildcards
model = load_rdms(snakemake.input.model[0])
descriptors = model.rdm_descriptors
layers = [dict(zip(("pathway", "layer", "index"), values)) for values in zip(descriptors["pathway"], descriptors["layer"], descriptors["index"])]
vectors = model.get_vectors()
settings = Inference.from_params(params, params.comparison, resolve(params.device.value, "rsa.device"))
tables, resamples, group = [], [], []


def score_group():
    table, resampled = score_layers(group, vectors, np.asarray(descriptors["pathway"]), settings, wildcards.stimulus)
    tables.append(table)
    resamples.append(resampled)
    group.clear()


for path in snakemake.input.brain:
    group.append(BrainRDMs.from_stored(load_rdms(path)))
    if sum(brain.half_a.size + brain.container_bootstrap.size for brain in group) >= GROUP_ENTRIES:
        score_group()
if group:
    score_group()
table = labelled_table(pd.concat(tables, ignore_index=True), layers, wildcards.stimulus, wildcards.model, params.weights)
table["distance"] = model.dissimilarity_measure
table["metric"] = "rsa"
table.to_parquet(snakemake.output.table, index=False)
joined = {
    "bootstrap": np.concatenate([part["bootstrap"] for part in resamples], axis=1),
    "halvings": np.concatenate([part["halvings"] for part in resamples], axis=2),
}
write_npz(snakemake.output.resamples, resample_arrays(joined, table, layers))
