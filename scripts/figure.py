"""Rule figure: the reference figure of one stimulus × depth, raw and noise-corrected (PNG and SVG),
interactive (HTML, with its Plotly JSON), and the RDM views of its populations."""

import numpy as np
import pandas as pd

from brainlike.depths import depth_stem, depth_title, depth_value
from brainlike.figures import correction_label, save
from brainlike.figures.interactive import interactive_scores, save_interactive
from brainlike.figures.layers import scores_over_layers
from brainlike.figures.rdm_views import rdm_views
from brainlike.layer_names import PIXEL_PATHWAY
from brainlike.logs import to_file
from brainlike.rdm import load_rdms

to_file(snakemake.log[0])
params, output = snakemake.params, snakemake.output
metric, stimulus, depth = snakemake.wildcards.metric, snakemake.wildcards.stimulus, depth_value(params.depth)
table = pd.read_parquet(snakemake.input.table)
groups = pd.read_parquet(snakemake.input.groups)
scores = table[(table["metric"] == metric) & (table["stimulus"] == stimulus) & (table["depth"] == depth)]
if not groups.empty:
    groups = groups[(groups["metric"] == metric) & (groups["stimulus"] == stimulus) & (groups["depth"] == depth)]
correction = correction_label(scores["comparison"].iloc[0])
for corrected, paths in ((False, (output.png, output.svg)), (True, (output.corrected_png, output.corrected_svg))):
    title = f"{stimulus}, {depth_title(depth)}" + (f", noise-corrected ({correction})" if corrected else "")
    figure = scores_over_layers(scores, groups, params.groups, params.models, params.areas, params.palette, title, corrected)
    save(figure, *paths)
interactive = interactive_scores(scores, groups, params.groups, params.models, params.areas, params.palette,
                                 f"{stimulus}, {depth_title(depth)}")  # fmt: skip
save_interactive(interactive, output.html, output.plotly, f"{metric}-{stimulus}-{depth_stem(depth)}")

panels = []
for area, path in zip(params.areas, snakemake.input.brain):
    brain = load_rdms(path)
    rows = scores[(scores["area"] == area) & (scores["pathway"] != PIXEL_PATHWAY)].dropna(subset=["score"])
    if rows.empty:
        continue
    best = rows.loc[rows["score"].idxmax()]
    model = load_rdms(dict(zip(params.models, snakemake.input.models))[best["model"]])
    layers = list(zip(model.rdm_descriptors["pathway"], model.rdm_descriptors["layer"]))
    panels.append({
        "area": area,
        "brain": brain.get_matrices()[list(brain.rdm_descriptors["kind"]).index("all")],
        "model": model.get_matrices()[layers.index((best["pathway"], best["layer"]))],
        "model_label": f"best layer: {best['model']}\n{best['pathway']} {best['layer']} (score {best['score']:.3f})",
    })  # fmt: skip
images = None if params.continuous else np.load(snakemake.input.stimuli)["images"]
save(rdm_views(panels, images, f"{stimulus}, {depth_title(depth)}: RDMs in one stimulus order"), output.rdms)
