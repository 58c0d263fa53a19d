"""Rule best_layer_figure: each group's held-out best layer per area, its contrasts and the hierarchy."""

import pandas as pd

from brainlike.figures import save
from brainlike.figures.best_layers import best_layer_summary
from brainlike.logs import to_file

to_file(snakemake.log[0])
stimulus = snakemake.wildcards.stimulus
best = pd.read_parquet(snakemake.input.best_layers)
contrasts = pd.read_parquet(snakemake.input.contrasts)
table = pd.read_parquet(snakemake.input.table, columns=["comparison"])
if not contrasts.empty:
    contrasts = contrasts[(contrasts["stimulus"] == stimulus) & (contrasts["at"] == "held-out best layer")]
figure = best_layer_summary(
    best[best["stimulus"] == stimulus], contrasts, snakemake.params.areas, snakemake.params.palette,
    table["comparison"].iloc[0], f"{stimulus}: each group's held-out best layer",
)  # fmt: skip
save(figure, snakemake.output.png, snakemake.output.svg)
