"""Rule model_rdms: the RDM (rsa.distance) of every recorded layer of one zarr store."""

import numpy as np

from brainlike.stores import open_layers
from brainlike.logs import Progress, to_file
from brainlike.rdm import rdm_from_patterns, save_rdms

to_file(snakemake.log[0])
root, layers = open_layers(snakemake.input.store)
rdms = []
with Progress(len(layers), f"{snakemake.wildcards.model} {snakemake.wildcards.stimulus}: RDMs", "layer") as progress:
    for layer in layers:
        rdms.append(rdm_from_patterns(root[f"{layer['pathway']}/{layer['layer']}"], snakemake.params.distance))
        progress.advance()
save_rdms(
    snakemake.output[0],
    np.stack(rdms),
    rdm_descriptors={key: [layer[key] for layer in layers] for key in ("pathway", "layer", "index")},
    descriptors={"model": snakemake.wildcards.model, "stimulus": snakemake.wildcards.stimulus},
    distance=snakemake.params.distance,
)
