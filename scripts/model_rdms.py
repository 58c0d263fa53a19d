"""Rule model_rdms: the 1 − Pearson RDM of every recorded layer of one zarr store."""

import logging

import numpy as np

from brainlike.activations import open_layers
from brainlike.logs import to_file
from brainlike.rdm import correlation_rdm, save_rdms

to_file(snakemake.log[0])
root, layers = open_layers(snakemake.input.store)
rdms = []
for layer in layers:
    rdms.append(correlation_rdm(root[f"{layer['pathway']}/{layer['layer']}"]))
    logging.info("RDM of %s/%s done", layer["pathway"], layer["layer"])
save_rdms(
    snakemake.output[0],
    np.stack(rdms),
    rdm_descriptors={key: [layer[key] for layer in layers] for key in ("pathway", "layer", "index")},
    descriptors={"model": snakemake.wildcards.model, "stimulus": snakemake.wildcards.stimulus},
)
