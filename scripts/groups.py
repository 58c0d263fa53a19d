"""Rule groups: per group statistics and held-out best layers, and the contrasts between groups, per metric."""

import numpy as np
import pandas as pd

from brainlike.group_statistics import ModelScores, summarise
from brainlike.logs import to_file

to_file(snakemake.log[0])
params = snakemake.params
table = pd.read_parquet(snakemake.input.table)
models = {}
for (metric, model, stimulus), path in zip(params.triples, snakemake.input.resamples):
    rows = table[(table["metric"] == metric) & (table["model"] == model) & (table["stimulus"] == stimulus)]
    with np.load(path, allow_pickle=False) as resamples:
        models.setdefault(metric, {}).setdefault(stimulus, {})[model] = ModelScores.from_model(rows, dict(resamples))
# Each metric is summarised on its own: its contrasts' q is a family of their own.
frames = [[], [], []]
for metric, scores in models.items():
    summary = summarise(scores, params.groups, params.contrasts, params.areas, params.ci_level, params.seed, params.permutations)
    for parts, frame in zip(frames, summary):
        parts.append(frame if frame.empty else frame.assign(metric=metric)[["metric", *frame.columns]])
outputs = snakemake.output
for parts, (parquet, csv) in zip(
    frames,
    [(outputs.groups, outputs.groups_csv), (outputs.best_layers, outputs.best_layers_csv),
     (outputs.contrasts, outputs.contrasts_csv)],
):  # fmt: skip
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    frame.to_parquet(parquet, index=False)
    frame.to_csv(csv, index=False)
