"""Rule figure: the reference figure of one stimulus × depth, raw and noise-corrected (PNG and SVG),
and interactive (HTML, with its Plotly JSON)."""

import pandas as pd

from brainlike.figures import save
from brainlike.figures.interactive import interactive_scores, save_interactive
from brainlike.figures.layers import scores_over_layers
from brainlike.logs import to_file

to_file(snakemake.log[0])
params, output = snakemake.params, snakemake.output
stimulus, depth = snakemake.wildcards.stimulus, int(snakemake.wildcards.depth)
table = pd.read_parquet(snakemake.input.table)
groups = pd.read_parquet(snakemake.input.groups)
scores = table[(table["stimulus"] == stimulus) & (table["depth"] == depth)]
if not groups.empty:
    groups = groups[(groups["stimulus"] == stimulus) & (groups["depth"] == depth)]
for corrected, paths in ((False, (output.png, output.svg)), (True, (output.corrected_png, output.corrected_svg))):
    title = f"{stimulus}, {depth} µm" + (", noise-corrected (score / split-half ceiling median)" if corrected else "")
    figure = scores_over_layers(scores, groups, params.groups, params.models, params.areas, params.palette, title, corrected)
    save(figure, *paths)
interactive = interactive_scores(scores, groups, params.groups, params.models, params.areas, params.palette,
                                 f"{stimulus}, {depth} µm")  # fmt: skip
save_interactive(interactive, output.html, output.plotly, f"{stimulus}-{depth}um")
