"""Rule compare: τ-a of every layer of one model against every population's half-trial RDMs."""

import numpy as np
import pandas as pd

from brainlike.compare import tau_a
from brainlike.logs import to_file
from brainlike.rdm import load_rdms

to_file(snakemake.log[0])
model = load_rdms(snakemake.input.model[0])
layer_vectors = model.get_vectors()
rows = []
for path in snakemake.input.brain:
    brain = load_rdms(path)
    halves = brain.subset("half", "a").get_vectors()
    # splits × layers: each half-trial brain RDM against all layers in one batched call.
    taus = np.stack([tau_a(half, layer_vectors) for half in halves])
    for position, (pathway, layer, index) in enumerate(
        zip(model.rdm_descriptors["pathway"], model.rdm_descriptors["layer"], model.rdm_descriptors["index"])
    ):
        rows.append(
            {
                "stimulus": snakemake.wildcards.stimulus,
                "area": brain.descriptors["area"],
                "depth": int(brain.descriptors["depth"]),
                "model": snakemake.wildcards.model,
                "pathway": pathway,
                "layer": layer,
                "layer_index": int(index),
                "tau": taus[:, position].mean(),
                "tau_sd": taus[:, position].std(ddof=1),
                "brain_resamples": len(halves),
                "comparison": "tau-a",
            }
        )
pd.DataFrame(rows).to_parquet(snakemake.output[0], index=False)
