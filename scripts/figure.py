"""Rule figure: scores over layers per area for one stimulus × depth, noise ceiling as a grey band."""

import pandas as pd

from brainlike.logs import to_file
from brainlike.plots import scores_over_layers

to_file(snakemake.log[0])
table = pd.read_parquet(snakemake.input.table)
stimulus, depth = snakemake.wildcards.stimulus, int(snakemake.wildcards.depth)
subset = table[(table["stimulus"] == stimulus) & (table["depth"] == depth)]
scores_over_layers(subset, f"{stimulus}, {depth} µm", snakemake.output[0])
