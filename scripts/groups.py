"""Rule groups: per group statistics and held-out best layers, and the contrasts between groups."""

import numpy as np
import pandas as pd

from brainlike.group_statistics import ModelScores, summarise
from brainlike.logs import to_file

to_file(snakemake.log[0])
params = snakemake.params
table = pd.read_parquet(snakemake.input.table)
models = {}
for (model, stimulus), path in zip(params.pairs, snakemake.input.resamples):
    rows = table[(table["model"] == model) & (table["stimulus"] == stimulus)]
    with np.load(path, allow_pickle=False) as resamples:
        models.setdefault(stimulus, {})[model] = ModelScores.from_model(rows, dict(resamples))
outputs = snakemake.output
for frame, (parquet, csv) in zip(
    summarise(models, params.groups, params.contrasts, params.areas, params.ci_level, params.seed, params.permutations),
    [(outputs.groups, outputs.groups_csv), (outputs.best_layers, outputs.best_layers_csv),
     (outputs.contrasts, outputs.contrasts_csv)],
):  # fmt: skip
    frame.to_parquet(parquet, index=False)
    frame.to_csv(csv, index=False)
