"""Rule responses (own data): one area × depth × stimulus population from the manifest's arrays."""

import json

import numpy as np

from brainlike.atomic import write_npz
from brainlike.logs import to_file
from brainlike.own_data import population_responses

to_file(snakemake.log[0])
wildcards = snakemake.wildcards
n_stimuli = len(np.load(snakemake.input.stimuli)["groups"])
arrays, metadata = population_responses(
    snakemake.params.manifest, wildcards.area, int(wildcards.depth), wildcards.stimulus, n_stimuli,
    snakemake.params.options,
)  # fmt: skip
arrays["metadata"] = np.array(json.dumps({**metadata, "cre_line": snakemake.params.cre_line}))
write_npz(snakemake.output[0], arrays)
