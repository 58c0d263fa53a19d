"""Rule noise_ceiling: split-half τ-a ceiling of one population."""

import json

from brainlike.logs import to_file
from brainlike.noise_ceiling import split_half_taus, summarise
from brainlike.rdm import load_rdms

to_file(snakemake.log[0])
rdms = load_rdms(snakemake.input.brain[0])
half_a = rdms.subset("half", "a").get_matrices()
half_b = rdms.subset("half", "b").get_matrices()
summary = {**summarise(split_half_taus(half_a, half_b)), "ceiling_method": "split-half tau-a"}
with open(snakemake.output[0], "w") as handle:
    json.dump(summary, handle, indent=1)
