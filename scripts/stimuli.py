"""Rule stimuli: one stimulus set as the model stage sees it (images, and the response row of each)."""

import numpy as np

from brainlike.atomic import write_npz
from brainlike.logs import to_file
from brainlike.own_data import load_stimuli
from brainlike.stimuli import model_stimuli

to_file(snakemake.log[0])
params = snakemake.params
if params.own_source is not None:
    images = load_stimuli(params.own_source)
    write_npz(snakemake.output[0], {"images": images, "groups": np.arange(len(images))})
else:
    template = np.load(snakemake.input.template)["images"]
    write_npz(snakemake.output[0], model_stimuli(template, snakemake.wildcards.stimulus, params.blanks, params.segment_frames))
