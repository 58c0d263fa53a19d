"""The reference figure and the best-layer summary as interactive Plotly figures: every value on hover.

Reference figure: one panel per area. Each group is its median over members with ±1 SD bars (as
in the static figure); each model's own scores are markers whose hover holds the score, its
interval over stimuli, p, q, cells and containers. A menu switches between the raw scores and the
noise-corrected ones (the metric's, e.g. divided by the split-half ceiling median; none for an area
whose ceiling is not above chance); the ceiling is a dashed line (1 when corrected).

Best-layer summary: the static summary's panels (one per depth, areas along x), each point's hover
holding its layer, how often the halvings chose it, its held-out and all-stimuli scores with the
interval, the hierarchy ρ, and every contrast of its group at that population with q.

Each figure fills the width of its window (Plotly's responsive layout). The viewer page holds every
figure of a run with plotly.js once, for the report: one copy of the library instead of one per
figure (about 4.7 MB each).
"""

from __future__ import annotations

import base64
import gzip
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..atomic import write_text
from ..depths import depth_title, depth_value
from ..layer_names import PIXEL_PATHWAY
from . import LABELS, NOISE_FREE, ceiling_label
from .best_layers import short_layer
from .layers import colours

VIEWS = {"raw": ("score", "score"), "noise-corrected": ("score_noise_corrected", "noise_corrected")}
SYMBOLS = ["circle", "diamond", "triangle-up", "triangle-down", "square"]
MODEL_HOVER = ["ci_low_stimuli", "ci_high_stimuli", "p", "q", "cells", "containers"]


def tick(pathway: str, layer: str) -> str:
    """A tensor's place on the shared x axis: the pixels, or pathway · layer."""
    return PIXEL_PATHWAY if pathway == PIXEL_PATHWAY else f"{pathway} · {layer}"


def interactive_scores(
    scores: pd.DataFrame, group_scores: pd.DataFrame, groups: dict[str, list[str]], model_order: list[str],
    areas: list[str], palette: dict[str, str], title: str,
) -> go.Figure:  # fmt: skip
    """Values are plain JSON lists (readable without plotly). ``scores``: the τ table's rows of one stimulus × depth; ``group_scores``: the group table's rows
    of it. Each trace's ``meta`` says its view, series (group, model or ceiling) and area, so its
    values can be read back."""
    areas = [area for area in areas if area in set(scores["area"])]
    scores = scores.sort_values(["model", "layer_index"])
    order = list(dict.fromkeys(tick(p, l) for m in model_order
                               for p, l in scores.loc[scores["model"] == m, ["pathway", "layer"]].itertuples(index=False)))  # fmt: skip
    present = [group for group, members in groups.items() if set(members) & set(scores["model"])]
    ungrouped = [m for m in model_order if m in set(scores["model"]) and not any(m in ms for ms in groups.values())]
    colour = colours(present + ungrouped, palette)
    figure = make_subplots(rows=1, cols=len(areas), shared_yaxes=True, subplot_titles=areas, horizontal_spacing=0.03)
    visibility = {view: [] for view in VIEWS}
    for column, area in enumerate(areas, start=1):
        panel = scores[scores["area"] == area]
        for view, (model_column, group_prefix) in VIEWS.items():
            if view == "noise-corrected" and panel.iloc[0]["noise_corrected_flag"]:
                continue  # a ratio to a ceiling near zero or one chance could have produced: no noise-corrected view
            shown = view == "raw"
            added = []
            for group in present:
                rows = group_scores[(group_scores["group"] == group) & (group_scores["area"] == area)]
                rows = rows.assign(x=[tick(p, l) for p, l in zip(rows["pathway"], rows["layer"])])
                rows = rows.set_index("x").reindex([x for x in order if x in set(rows["x"])]).reset_index()
                added.append(go.Scatter(
                    x=rows["x"].tolist(), y=rows[f"{group_prefix}_median"].tolist(), mode="lines+markers", name=group, legendgroup=group,
                    error_y={"type": "data", "array": rows[f"{group_prefix}_sd"].tolist(), "thickness": 1},
                    line={"color": colour[group]}, customdata=rows[["members", f"{group_prefix}_sd"]].to_numpy().tolist(),
                    hovertemplate=f"<b>{group}</b> (median of %{{customdata[0]}})<br>%{{x}}<br>median %{{y:.4f}}, "
                                  "SD %{customdata[1]:.4f}<extra></extra>",
                ))  # fmt: skip
            for model in [m for m in model_order if m in set(panel["model"])]:
                rows = panel[panel["model"] == model]
                owner = next((group for group in present if model in groups[group]), model)
                added.append(go.Scatter(
                    x=[tick(p, l) for p, l in zip(rows["pathway"], rows["layer"])], y=rows[model_column].tolist(),
                    showlegend=None if owner == model else False,  # a group's members: its median's legend entry
                    mode="markers" if owner != model else "lines+markers", name=owner, legendgroup=owner,
                    marker={"color": colour[owner], "size": 5, "opacity": 0.55 if owner != model else 1.0},
                    customdata=rows[MODEL_HOVER].to_numpy().tolist(), line={"color": colour[owner]},
                    hovertemplate=f"<b>{model}</b><br>%{{x}}<br>score %{{y:.4f}} "
                                  "[%{customdata[0]:.4f}, %{customdata[1]:.4f}] over stimuli<br>"
                                  "p %{customdata[2]:.4g}, q %{customdata[3]:.4g}<br>"
                                  "%{customdata[4]} cells, %{customdata[5]} containers<extra></extra>",
                ))  # fmt: skip
                added[-1].meta = model
            ceiling = panel.iloc[0]
            level, name = (ceiling["ceiling_median"], ceiling_label(ceiling["comparison"])) if view == "raw" else (1.0, NOISE_FREE)
            added.append(go.Scatter(
                x=[order[0], order[-1]], y=[level, level], mode="lines", name=name,
                legendgroup="ceiling", line={"color": "grey", "dash": "dash"},
                hovertemplate=f"{ceiling_label(ceiling['comparison'])}: median {ceiling['ceiling_median']:.4f}, "
                              f"SD over splits {ceiling['ceiling_sd']:.4f}; noise-free score {ceiling['ceiling_noise_free']:.4f}, "
                              f"standard error {ceiling['ceiling_se']:.4f}"
                              "<extra></extra>",
            ))  # fmt: skip
            for trace in added:
                legend = shown and column == 1 and trace.showlegend is not False
                trace.update(visible=shown, showlegend=legend, meta={"view": view, "series": trace.meta or trace.name,
                                                                       "area": area})  # fmt: skip
                figure.add_trace(trace, row=1, col=column)
                for other in VIEWS:
                    visibility[other].append(other == view)
    metric = LABELS[scores["comparison"].iloc[0]]
    figure.update_xaxes(categoryorder="array", categoryarray=order, tickangle=90)
    figure.update_yaxes(title_text=metric, row=1, col=1)
    figure.update_layout(
        title=title, height=520, autosize=True, template="plotly_white", margin={"t": 110},
        updatemenus=[{
            "type": "buttons", "direction": "right", "x": 1.0, "y": 1.14, "xanchor": "right", "yanchor": "bottom",
            "buttons": [
                {"label": "raw", "method": "update", "args": [{"visible": visibility["raw"]},
                                                             {"yaxis.title.text": metric}]},
                {"label": "noise-corrected", "method": "update", "args": [{"visible": visibility["noise-corrected"]},
                                                                         {"yaxis.title.text": f"{metric} / ceiling"}]},
            ],
        }],
    )  # fmt: skip
    return figure


def _shown(value: float) -> str:
    """An undefined ρ (the same best layer in every area) says so rather than showing nan."""
    return f"{value:.2f}" if np.isfinite(value) else "n/a"


def _contrast_lines(contrasts: pd.DataFrame, group: str, pathway: str, area: str, depth: int) -> str:
    rows = contrasts[((contrasts["group_a"] == group) | (contrasts["group_b"] == group)) & (contrasts["pathway"] == pathway)
                     & (contrasts["area"] == area) & (contrasts["depth"] == depth)]  # fmt: skip
    return "".join(f"<br>{row.contrast}: difference {row.difference:+.4f}, p {row.p:.3g}, q {row.q:.3g}"
                   for row in rows.itertuples())  # fmt: skip


def interactive_best_layers(
    best: pd.DataFrame, contrasts: pd.DataFrame, areas: list[str], palette: dict[str, str], comparison: str, title: str
) -> go.Figure:  # fmt: skip
    """``best``: the group best-layer table of one stimulus; ``contrasts``: the contrast table's
    held-out best-layer rows of that stimulus. Per group, pathway and depth two traces: the held-out
    score at the best layer (filled; ``meta.value`` "held-out", y: ``best_layer_held_out_score``) and
    the all-stimuli score with its interval (open; "all stimuli", y: ``best_layer_score``). Each
    trace's ``meta`` holds its group, pathway, depth and value, so its values can be read back."""
    if contrasts.empty:
        contrasts = pd.DataFrame(columns=["contrast", "group_a", "group_b", "area", "depth", "pathway", "difference", "p", "q"])
    depths = sorted(best["depth"].unique())
    areas = [area for area in areas if area in set(best["area"])]
    series = list(best[["group", "pathway"]].drop_duplicates().itertuples(index=False, name=None))
    colour = colours(list(dict.fromkeys(group for group, _ in series)), palette)
    symbols = {pathway: symbol for pathway, symbol in zip(dict.fromkeys(p for _, p in series), SYMBOLS * len(series))}
    rho = best.drop_duplicates(["group", "pathway", "depth"]).set_index(["group", "pathway", "depth"])["hierarchy_rho"]
    names = {key: f"{key[0]} · {key[1]}: ρ " + ", ".join(_shown(rho.get((*key, d), np.nan)) for d in depths)
             for key in series}  # fmt: skip
    # Depths stacked, so each area's slot can widen with the number of series beside each other.
    figure = make_subplots(rows=len(depths), cols=1, shared_xaxes=True, subplot_titles=[depth_title(d) for d in depths],
                           vertical_spacing=0.12)  # fmt: skip
    for row_number, depth in enumerate(depths, start=1):
        for group, pathway in series:
            rows = best[(best["group"] == group) & (best["pathway"] == pathway) & (best["depth"] == depth)]
            rows = rows.set_index("area").reindex([a for a in areas if a in set(rows["area"])]).reset_index()
            hover = [
                f"<b>{group}</b> · {pathway} (median of {row.members}), {row.area} {depth_title(depth)}<br>"
                f"best layer {row.best_layer}: chosen in {row.best_layer_selected:.0%} of halvings, "
                f"held-out score {row.best_layer_held_out_score:.4f}<br>"
                f"score on all stimuli {row.best_layer_score:.4f} [{row.best_layer_ci_low:.4f}, {row.best_layer_ci_high:.4f}]<br>"
                f"relative depth {row.best_layer_relative_depth:.2f}; hierarchy ρ {_shown(row.hierarchy_rho)} "
                f"[{_shown(row.hierarchy_ci_low)}, {_shown(row.hierarchy_ci_high)}]"
                + _contrast_lines(contrasts, group, pathway, row.area, depth)
                for row in rows.itertuples()
            ]  # fmt: skip
            figure.add_trace(go.Scatter(
                x=rows["area"].tolist(), y=rows["best_layer_held_out_score"].tolist(), mode="markers+text",
                text=[short_layer(layer) for layer in rows["best_layer"]], textposition="top center",
                textfont={"size": 8, "color": colour[group]}, name=names[(group, pathway)], legendgroup=f"{group}|{pathway}",
                showlegend=row_number == 1, offsetgroup=f"{group}|{pathway}",
                marker={"color": colour[group], "symbol": symbols[pathway], "size": 9},
                hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
                meta={"group": group, "pathway": pathway, "depth": depth_value(depth), "value": "held-out"},
            ), row=row_number, col=1)  # fmt: skip
            figure.add_trace(go.Scatter(
                x=rows["area"].tolist(), y=rows["best_layer_score"].tolist(), mode="markers",
                name=names[(group, pathway)], legendgroup=f"{group}|{pathway}", showlegend=False,
                offsetgroup=f"{group}|{pathway}",
                marker={"color": colour[group], "symbol": f"{symbols[pathway]}-open", "size": 7},
                error_y={"type": "data", "symmetric": False, "thickness": 1,
                         "array": (rows["best_layer_ci_high"] - rows["best_layer_score"]).tolist(),
                         "arrayminus": (rows["best_layer_score"] - rows["best_layer_ci_low"]).tolist()},
                hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
                meta={"group": group, "pathway": pathway, "depth": depth_value(depth), "value": "all stimuli"},
            ), row=row_number, col=1)  # fmt: skip
    figure.update_xaxes(categoryorder="array", categoryarray=areas, showticklabels=True)
    figure.update_yaxes(title_text=f"{LABELS[comparison]} at the best layer:<br>held-out (filled), all stimuli (open, interval)")
    figure.update_layout(
        title=title, height=120 + 360 * len(depths), autosize=True, template="plotly_white",
        scattermode="group", scattergap=0.3, legend={"title": {"text": "group · pathway: hierarchy ρ<br>per depth (" + ", ".join(depth_title(d) for d in depths) + ")"}},
    )  # fmt: skip
    return figure


# Plotly's options for every page: the figure follows its window's width.
PLOT_CONFIG = {"responsive": True}


def save_interactive(figure: go.Figure, html_path: Path, data: Path, name: str) -> None:
    """A self-contained HTML file (plotly.js inside: it opens offline) and the figure's JSON; the
    fixed ``name`` as the plot's element id keeps the bytes the same from the same results."""
    page = figure.to_html(include_plotlyjs=True, full_html=True, div_id=name, config=PLOT_CONFIG, default_width="100%")
    write_text(html_path, page)
    write_text(data, figure.to_json())


def viewer_page(figures: dict[str, str]) -> str:
    """One offline page showing any of ``figures`` ({title: Plotly JSON text}), chosen from a list.

    plotly.js is inside once, gzip-compressed (1.4 MB instead of 4.7 MB) and unpacked by the
    browser's own DecompressionStream: the report embeds every file base64-encoded, so the library
    was most of its size.
    """
    from plotly.offline import get_plotlyjs

    library = base64.b64encode(gzip.compress(get_plotlyjs().encode(), mtime=0)).decode()
    parsed = {title: json.loads(text) for title, text in figures.items()}
    # Inside a script element only "</" could end it early: JSON allows "<\/" for it.
    payload = json.dumps(parsed, separators=(",", ":")).replace("</", "<\\/")
    options = "".join(f'<option value="{html.escape(title)}">{html.escape(title)}</option>' for title in figures)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Interactive figures</title>
<style>body {{ font-family: sans-serif; margin: 0.5em; }} #figure {{ width: 100%; }}</style></head>
<body><label>Figure <select id="choice">{options}</select></label>
<div id="figure"></div>
<script type="application/json" id="figures">{payload}</script>
<script type="text/plain" id="plotly-gzip-base64">{library}</script>
<script type="text/javascript">
async function loadPlotly() {{
  const packed = Uint8Array.from(atob(document.getElementById("plotly-gzip-base64").textContent), c => c.charCodeAt(0));
  const unpacked = new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"));
  const library = document.createElement("script");
  library.textContent = await new Response(unpacked).text();
  document.head.appendChild(library);
}}
const figures = JSON.parse(document.getElementById("figures").textContent);
const choice = document.getElementById("choice");
function show() {{
  const figure = figures[choice.value];
  Plotly.newPlot("figure", figure.data, figure.layout, {json.dumps(PLOT_CONFIG)});
}}
loadPlotly().then(() => {{
  choice.addEventListener("change", show);
  show();
}});
</script></body></html>
"""
