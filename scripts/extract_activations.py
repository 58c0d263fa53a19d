"""Rule extract_activations: every layer of one model on one stimulus set, into one zarr store."""

import numpy as np
import torch

from brainlike.activations import write_store
from brainlike.devices import resolve
from brainlike.logs import to_file
from brainlike.models import load_model

to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
device = resolve(snakemake.params.device, "activations.device")
stimuli = np.load(snakemake.input.stimuli)
write_store(
    snakemake.output.store,
    load_model(snakemake.wildcards.model, snakemake.params.model),
    images=stimuli["images"],
    groups=stimuli["groups"],
    batch_size=snakemake.params.batch_size,
    device=torch.device(device),
    attrs={"stimulus": snakemake.wildcards.stimulus},
)
