"""Rule embedded_unit_drives: the planted drives of the embedded Neuropixels units."""

import torch

from brainlike.embedded_units import unit_drives
from brainlike.logs import to_file

to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
unit_drives(params.embedded, {params.embedded["source_model"]: params.source_model}, snakemake.output[0])
