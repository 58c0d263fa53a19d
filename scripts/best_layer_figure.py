"""Rule best_layer_figure: each group's held-out best layer per area, its contrasts and the hierarchy,
static (PNG and SVG) and interactive (HTML, with its Plotly JSON)."""

import pandas as pd

from brainlike.figures import save
from brainlike.figures.best_layers import best_layer_summary
from brainlike.figures.interactive import interactive_best_layers, save_interactive
from brainlike.logs import to_file

to_file(snakemake.log[0])
metric, stimulus = snakemake.wildcards.metric, snakemake.wildcards.stimulus
best = pd.read_parquet(snakemake.input.best_layers)
contrasts = pd.read_parquet(snakemake.input.contrasts)
table = pd.read_parquet(snakemake.input.table, columns=["metric", "comparison"])
table = table[table["metric"] == metric]
if not contrasts.empty:
    contrasts = contrasts[(contrasts["metric"] == metric) & (contrasts["stimulus"] == stimulus)
                          & (contrasts["at"] == "held-out best layer")]  # fmt: skip
arguments = (best[(best["metric"] == metric) & (best["stimulus"] == stimulus)], contrasts, snakemake.params.areas, snakemake.params.palette,
             table["comparison"].iloc[0], f"{stimulus}: each group's held-out best layer")  # fmt: skip
save(best_layer_summary(*arguments), snakemake.output.png, snakemake.output.svg)
save_interactive(interactive_best_layers(*arguments), snakemake.output.html, snakemake.output.plotly, f"{metric}-{stimulus}-best-layers")
