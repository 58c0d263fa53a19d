"""Rule stimuli: one stimulus set as the model stage sees it (images, and the response row of each)."""

import numpy as np

from brainlike.atomic import write_npz
from brainlike.logs import to_file
from brainlike.own_data import load_stimulus_set
from brainlike.stimuli import model_stimuli

to_file(snakemake.log[0])
params = snakemake.params
if params.stimulus_set is not None:
    write_npz(snakemake.output[0], load_stimulus_set(params.stimulus_set))
else:
    template = np.load(snakemake.input.template)["images"]
    write_npz(snakemake.output[0], model_stimuli(template, snakemake.wildcards.stimulus, params.blanks, params.segment_frames))
