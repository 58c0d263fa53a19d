"""Rule embedded_cache: generate the embedded Brain Observatory cache with planted truth."""

import torch

from brainlike.embedded_cache import generate
from brainlike.logs import to_file

to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
generate(
    params.embedded, params.cre_line, {params.embedded["source_model"]: params.source_model}, snakemake.output.cache,
    workers=snakemake.threads,
)
