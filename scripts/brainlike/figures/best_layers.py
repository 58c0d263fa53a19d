"""The best-layer summary: each group's held-out best layer per area, its contrasts and the hierarchy.

One panel per depth; areas along x in the config's order (the hierarchy the user lists). Per group
and pathway, at its best layer (the layer chosen most often on one half of the stimuli): the
held-out score (filled marker: chosen on one half, scored on the other, which reuses no data), and
beside it the group median on all stimuli with its stimulus-bootstrap interval (open marker: an
in-sample value, higher than the held-out one by the selection's optimism); the layer's name
beside them; each contrast's q (its held-out best-layer difference) above the area. The legend gives each group × pathway's hierarchy ρ (areas' order vs the best layer's
relative depth) with its interval.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..depths import depth_title
from . import LABELS
from .layers import colours

MARKERS = ["o", "D", "^", "v", "s"]


def short_layer(layer: str) -> str:
    """A layer's last two name parts, enough to tell blocks apart beside a point."""
    return ".".join(layer.split(".")[-2:])


def best_layer_summary(
    best: pd.DataFrame, contrasts: pd.DataFrame, areas: list[str], palette: dict[str, str], comparison: str, title: str
):  # fmt: skip
    """``best``: the group best-layer table of one stimulus; ``contrasts``: the contrast table's
    held-out best-layer rows of that stimulus. Each errorbar container (the all-stimuli score and
    its interval) is labelled ``<group>|<pathway>`` and each held-out marker line
    ``<group>|<pathway>|held-out`` (x: area positions), so their values can be read back."""
    if contrasts.empty:
        contrasts = pd.DataFrame(columns=["contrast", "area", "depth", "pathway", "q"])
    depths = sorted(best["depth"].unique())
    areas = [area for area in areas if area in set(best["area"])]
    position = {area: index for index, area in enumerate(areas)}
    series = list(best[["group", "pathway"]].drop_duplicates().itertuples(index=False, name=None))
    groups = list(dict.fromkeys(group for group, _ in series))
    pathways = list(dict.fromkeys(pathway for _, pathway in series))
    colour = colours(groups, palette)
    offset = {key: (index - (len(series) - 1) / 2) * 0.8 / max(len(series), 1) for index, key in enumerate(series)}
    numbers = {contrast: index for index, contrast in enumerate(dict.fromkeys(contrasts["contrast"]), start=1)}
    figure, axes = plt.subplots(1, len(depths), figsize=(1.5 * len(areas) * len(depths) + 3.5, 4.2), squeeze=False)
    for ax, depth in zip(axes[0], depths):
        at_depth = best[best["depth"] == depth]
        for key in series:
            rows = at_depth[(at_depth["group"] == key[0]) & (at_depth["pathway"] == key[1])]
            rows = rows.assign(x=rows["area"].map(position) + offset[key]).sort_values("x")
            interval = [rows["best_layer_score"] - rows["best_layer_ci_low"], rows["best_layer_ci_high"] - rows["best_layer_score"]]
            beside = rows["x"] + 0.3 * 0.8 / max(len(series), 1)  # the all-stimuli value next to the held-out one
            container = ax.errorbar(beside, rows["best_layer_score"], yerr=interval, color=colour[key[0]],
                                    marker=MARKERS[pathways.index(key[1]) % len(MARKERS)], linestyle="none",
                                    markersize=5, capsize=2)  # fmt: skip
            container.set_label(f"{key[0]}|{key[1]}")
            container.lines[0].set_markerfacecolor("white")
            ax.plot(rows["x"], rows["best_layer_held_out_score"], color=colour[key[0]], linestyle="none", markersize=5,
                    marker=MARKERS[pathways.index(key[1]) % len(MARKERS)], label=f"{key[0]}|{key[1]}|held-out")  # fmt: skip
            for x, y, layer in zip(rows["x"], rows["best_layer_held_out_score"], rows["best_layer"]):
                ax.annotate(short_layer(layer), (x, y), xytext=(3, -8), textcoords="offset points", fontsize=5,
                            color=colour[key[0]])  # fmt: skip
        top = np.nanmax([at_depth["best_layer_ci_high"].max(), at_depth["best_layer_held_out_score"].max()])
        bottom = np.nanmin([0, at_depth["best_layer_ci_low"].min(), at_depth["best_layer_held_out_score"].min()])
        marks = contrasts[contrasts["depth"] == depth]
        for area in areas:
            lines = [f"C{numbers[row.contrast]} {row.pathway}: q={row.q:.2g}"
                     for row in marks[marks["area"] == area].itertuples()]  # fmt: skip
            ax.text(position[area], top + 0.04 * (top - bottom), "\n".join(lines), fontsize=5.5, ha="center",
                    va="bottom")  # fmt: skip
        ax.set_xticks(range(len(areas)), areas)
        ax.set_title(depth_title(depth))
        ax.set_ylim(top=top + 0.3 * (top - bottom))
    axes[0, 0].set_ylabel(f"{LABELS[comparison]} at the best layer:\nheld-out (filled), all stimuli (open, interval)")
    handles = []
    for group, pathway in series:
        rows = best[(best["group"] == group) & (best["pathway"] == pathway)]
        text = []
        for depth in depths:
            rho = rows[rows["depth"] == depth].iloc[0]
            text.append(f"{depth_title(depth)} ρ={rho['hierarchy_rho']:.2f} [{rho['hierarchy_ci_low']:.2f}, "
                        f"{rho['hierarchy_ci_high']:.2f}]" if np.isfinite(rho["hierarchy_rho"]) else f"{depth_title(depth)} ρ=n/a")  # fmt: skip
        handles.append(Line2D([], [], color=colour[group], marker=MARKERS[pathways.index(pathway) % len(MARKERS)],
                              linestyle="none", label=f"{group} · {pathway}: " + "; ".join(text)))  # fmt: skip
    handles += [Line2D([], [], linestyle="none", label=f"C{number}: {contrast}, held-out best layers, q (BH)")
                for contrast, number in numbers.items()]  # fmt: skip
    figure.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize=7, frameon=False,
                  title="hierarchy: Spearman ρ of area order vs best-layer depth [interval]", title_fontsize=7)  # fmt: skip
    figure.suptitle(title)
    figure.tight_layout()
    return figure

