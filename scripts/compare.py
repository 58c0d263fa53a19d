"""Rule compare: RSA scores of every layer of one model against every population, with their inference."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from brainlike.atomic import write_npz
from brainlike.compare import use_threads
from brainlike.devices import resolve
from brainlike.frame import Statistics, labelled_table, resample_arrays
from brainlike.logs import to_file
from brainlike.rdm import load_rdms
from brainlike.rsa import BrainRDMs, score_layers

# Brain RDM entries held at a time (float64): populations are scored in groups of about 1 GB.
GROUP_ENTRIES = 1 << 27
KEY = ("stimulus", "area", "depth")

to_file(snakemake.log[0])
use_threads(snakemake.threads)
params, wildcards = snakemake.params, snakemake.wildcards
model = load_rdms(snakemake.input.model[0])
descriptors = model.rdm_descriptors
layers = [dict(zip(("pathway", "layer", "index"), values)) for values in zip(descriptors["pathway"], descriptors["layer"], descriptors["index"])]
vectors = model.get_vectors()
statistics = Statistics.from_params(params)
device = resolve(params.device.value, "statistics.device")
ceilings = {}
for path in snakemake.input.ceilings:
    ceiling = json.loads(Path(path).read_text())
    ceilings[(ceiling["area"], ceiling["depth"])] = {name: value for name, value in ceiling.items() if name not in KEY}
tables, resamples, group = [], [], []


def score_group():
    group_ceilings = [ceilings[(brain.key["area"], brain.key["depth"])] for brain in group]
    table, resampled = score_layers(group, vectors, np.asarray(descriptors["pathway"]), statistics, params.comparison,
                                    wildcards.stimulus, group_ceilings, device)  # fmt: skip
    tables.append(table)
    resamples.append(resampled)
    group.clear()


for path in snakemake.input.brain:
    group.append(BrainRDMs.from_stored(load_rdms(path)))
    if sum(brain.half_a.size + brain.container_bootstrap.size for brain in group) >= GROUP_ENTRIES:
        score_group()
if group:
    score_group()
table = labelled_table(pd.concat(tables, ignore_index=True), layers, wildcards.stimulus, wildcards.model, params.weights, "rsa")
table["distance"] = model.dissimilarity_measure
table.to_parquet(snakemake.output.table, index=False)
joined = {
    "bootstrap": np.concatenate([part["bootstrap"] for part in resamples], axis=1),
    "halvings": np.concatenate([part["halvings"] for part in resamples], axis=2),
}
write_npz(snakemake.output.resamples, resample_arrays(joined, table, layers))
