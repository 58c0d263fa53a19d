"""Rule published_rdm (data.source: rdms): a published RDM as the population's brain-RDM store, beside its description
and its ceiling as published."""

import json

import numpy as np

from brainlike.atomic import write_text
from brainlike.depths import depth_value
from brainlike.logs import to_file
from brainlike.noise_ceiling import published_ceiling
from brainlike.published_rdms import population_row, read_rdm
from brainlike.rdm import save_rdm_vectors

to_file(snakemake.log[0])
wildcards, params = snakemake.wildcards, snakemake.params
with np.load(snakemake.input.stimuli) as stimuli:
    n_stimuli = int(stimuli["groups"].max()) + 1
row = population_row(snakemake.input.manifest, wildcards.area, wildcards.depth, wildcards.stimulus)
published = read_rdm(row, n_stimuli, snakemake.input.stimuli)
key = {"stimulus": wildcards.stimulus, "area": wildcards.area, "depth": depth_value(wildcards.depth)}
save_rdm_vectors(
    snakemake.output.store,
    published.vector[None],
    rdm_descriptors={"kind": ["all"], "index": [0], "container": [""]},
    descriptors={**key, "source": str(published.file)},
    measure=published.measure,
)
description = {
    **key,
    "modality": params.modality,
    "cre_line": params.cre_line,
    # A published RDM carries no trials or cells: the tables leave them empty.
    "cells": None,
    "containers": None,
    "trials": None,
    "stimuli": n_stimuli,
    "signal": "published RDM",
    "options": {"file": str(published.file), "dissimilarity_measure": published.measure},
    "selection": {"cells_recorded": None, "cells_kept": None},
    "cells_per_container": {},
}
write_text(snakemake.output.description, json.dumps(description, indent=1))
write_text(snakemake.output.ceiling, json.dumps({**key, **published_ceiling(published.ceiling_lower, published.ceiling_upper)}, indent=1))
