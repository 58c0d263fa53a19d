"""Rule recordings (own data): the manifest's arrays of one area × depth × stimulus, one recording per row."""

import numpy as np

from brainlike.logs import to_file
from brainlike.own_data import population_recordings
from brainlike.recordings import write_recordings

to_file(snakemake.log[0])
wildcards = snakemake.wildcards
n_stimuli = len(np.load(snakemake.input.stimuli)["groups"])
recordings, metadata = population_recordings(
    snakemake.input.manifest, wildcards.area, int(wildcards.depth), wildcards.stimulus, n_stimuli,
    snakemake.params.cre_line,
)  # fmt: skip
write_recordings(snakemake.output.npz, recordings, metadata)
