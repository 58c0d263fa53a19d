"""Rule stimulus_templates (own data): the stimulus set as greyscale images, one model row each."""

import numpy as np

from brainlike.atomic import write_npz
from brainlike.logs import to_file
from brainlike.own_data import load_stimuli

to_file(snakemake.log[0])
images = load_stimuli(snakemake.params.source)
write_npz(snakemake.output[0], {"images": images, "groups": np.arange(len(images))})
