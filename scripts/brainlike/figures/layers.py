"""The reference figure: scores over layers, one panel per area, groups as medians with SD bars.

One row of panels per layer family (models that record the same layers), so a family's x axis
carries its own layer names: the pixel baseline first, then each pathway's layers in order, the
pathways drawn as separate lines (solid, dashed, …) over shared positions. A group is drawn as the
median of its members with ±1 SD bars (ddof 1), a model outside every group as its own line. A
tensor recorded under several pathways (a shared stem, a concatenated output) and the pixel
baseline are drawn once: markers belong to tensors, lines only join them. The split-half noise
ceiling is a dashed median with a ±1 SD band. Between-animal bounds are not drawn: they compare
one animal's all-trial RDM with the others', a scale a half-trial score does not share (they are in
the τ table).
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..group_statistics import distinct_tensors
from ..layer_names import PIXEL_PATHWAY
from . import LABELS, NOISE_FREE, ceiling_label

LINESTYLES = ["-", "--", ":", "-."]


def _common_suffix(names: list[str]) -> str:
    """The dotted suffix all names share (path0.res_blocks.res1, path1.res_blocks.res1 → res_blocks.res1)."""
    parts = [name.split(".") for name in names]
    shared = []
    for pieces in zip(*(reversed(p) for p in parts)):
        if len(set(pieces)) > 1:
            break
        shared.append(pieces[0])
    return ".".join(reversed(shared)) or " / ".join(dict.fromkeys(names))


class Family:
    """Models that record the same layers: their shared x axis."""

    def __init__(self, rows: pd.DataFrame):
        rows = rows.sort_values("layer_index")
        self.key = tuple(zip(rows["pathway"], rows["layer"]))
        self.columns, sequences = distinct_tensors(rows["pathway"].to_numpy(), rows["layer"].to_numpy())
        self.sequences = {pathway: list(self.columns["layer"].iloc[sequence]) for pathway, sequence in sequences.items()}
        # x of each tensor: 0 for the pixels, else its place along (the first of) its pathways.
        self.x = {layer: 0 for layer in self.columns.loc[self.columns["pathway"] == PIXEL_PATHWAY, "layer"]}
        for sequence in self.sequences.values():
            for place, layer in enumerate(sequence, start=1):
                self.x.setdefault(layer, place)
        length = max((len(sequence) for sequence in self.sequences.values()), default=0)
        self.ticks = ["pixels"] + [
            _common_suffix([sequence[place] for sequence in self.sequences.values() if place < len(sequence)])
            for place in range(length)
        ]


def _families(scores: pd.DataFrame, model_order: list[str]) -> list[tuple[Family, list[str]]]:
    families: dict[tuple, tuple[Family, list[str]]] = {}
    for model in model_order:
        rows = scores[scores["model"] == model]
        if rows.empty:
            continue
        rows = rows[(rows["area"] == rows["area"].iloc[0]) & (rows["depth"] == rows["depth"].iloc[0])]
        family = Family(rows)
        families.setdefault(family.key, (family, []))[1].append(model)
    return list(families.values())


def colours(names: list[str], palette: dict[str, str]) -> dict[str, str]:
    """The configured colour of each group or model, the others from a qualitative palette."""
    others = iter(sns.color_palette("tab10", 10 + len(names)).as_hex())
    used = set(palette.values())
    result = {}
    for name in names:
        if name in palette:
            result[name] = palette[name]
        else:
            colour = next(others)
            while colour in used:
                colour = next(others)
            used.add(colour)
            result[name] = colour
    return result


def _owner(model: str, groups: dict[str, list[str]]) -> str:
    """The group a model belongs to, or the model itself."""
    return next((group for group, members in groups.items() if model in members), model)


def _series(scores, group_scores, groups, family_models, area, depth, corrected):
    """(name, label, {layer: (y, sd)}) per group of this family, then per model outside every group."""
    value = "noise_corrected" if corrected else "score"
    grouped = {member for members in groups.values() for member in members}
    for group, members in groups.items():
        if members[0] not in family_models:
            continue
        rows = group_scores[(group_scores["group"] == group) & (group_scores["area"] == area)
                            & (group_scores["depth"] == depth)]  # fmt: skip
        yield group, f"{group} (median of {len(members)}, ±1 SD)", {
            layer: (y, sd) for layer, y, sd in zip(rows["layer"], rows[f"{value}_median"], rows[f"{value}_sd"])
        }
    for model in family_models:
        if model in grouped:
            continue
        rows = scores[(scores["model"] == model) & (scores["area"] == area)].drop_duplicates("layer")
        column = "score_noise_corrected" if corrected else "score"
        yield model, model, {layer: (y, np.nan) for layer, y in zip(rows["layer"], rows[column])}


def _draw_panel(ax, family, panel, group_scores, groups, family_models, area, depth, corrected, colour, style):
    """One area's series (groups' medians ± SD, models outside groups) and its ceiling."""
    for name, _label, values in _series(panel, group_scores, groups, family_models, area, depth, corrected):
        for pathway, sequence in family.sequences.items():
            ys = [values.get(layer, (np.nan, np.nan))[0] for layer in sequence]
            ax.plot([family.x[layer] for layer in sequence], ys, color=colour[name], linestyle=style[pathway],
                    linewidth=1.2, label="_line")  # fmt: skip
        for label, tensors in family.columns.groupby("pathway", sort=False):
            points = [(family.x[layer], *values[layer]) for layer in tensors["layer"] if layer in values]
            if not points:
                continue
            x, y, sd = map(np.array, zip(*points))
            container = ax.errorbar(x, y, yerr=None if np.isnan(sd).all() else sd, color=colour[name],
                                    marker="s" if label == PIXEL_PATHWAY else "o", markersize=3.5, linestyle="none",
                                    capsize=2, elinewidth=0.8)  # fmt: skip
            container.set_label(f"{name}|{label}")
    ceiling = panel.iloc[0]
    if corrected:
        ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1)
        return
    median, sd = ceiling["ceiling_median"], ceiling["ceiling_sd"]
    if np.isnan(median):  # a published RDM has no split-half ceiling
        return
    ax.axhline(median, color="0.3", linestyle="--", linewidth=1)
    ax.axhspan(median - sd, median + sd, color="0.6", alpha=0.3, linewidth=0)


def scores_over_layers(
    scores: pd.DataFrame, group_scores: pd.DataFrame, groups: dict[str, list[str]], model_order: list[str],
    areas: list[str], palette: dict[str, str], title: str, corrected: bool = False,
):  # fmt: skip
    """The figure for one metric × stimulus × depth (``scores``: its rows of the score table; ``group_scores``:
    its rows of the group table). Each errorbar container is labelled ``<group or model>|<pathway>``
    and holds one marker per tensor, so its values can be read back."""
    areas = [area for area in areas if area in set(scores["area"])]
    families = _families(scores, model_order)
    depth = scores["depth"].iloc[0]
    names = [group for group, members in groups.items() if members[0] in scores["model"].values]
    names += [m for m in model_order if m in scores["model"].values and not any(m in ms for ms in groups.values())]
    colour = colours(names, palette)
    figure, axes = plt.subplots(
        len(families), len(areas), figsize=(3.4 * len(areas) + 2.6, 3.2 * len(families)), squeeze=False,
        sharey="row",
    )  # fmt: skip
    # A family's first pathway is solid, its second dashed, … (the reference: p1 solid, p2 dashed).
    styles = [{p: LINESTYLES[i % len(LINESTYLES)] for i, p in enumerate(family.sequences)} for family, _ in families]
    for row, (family, family_models) in enumerate(families):
        style = styles[row]
        for column, area in enumerate(areas):
            ax = axes[row, column]
            panel = scores[scores["area"] == area]
            ceiling = panel.iloc[0]
            if corrected and ceiling["noise_corrected_flag"]:
                # A ratio to a ceiling near zero or one chance could have produced: noise, not a score.
                reason = textwrap.fill(ceiling["noise_corrected_flag"], 28)
                ax.text(0.5, 0.5, f"no noise-corrected score:\n{reason}", transform=ax.transAxes, ha="center",
                        va="center", fontsize=7, color="0.3")  # fmt: skip
            else:
                _draw_panel(ax, family, panel, group_scores, groups, family_models, area, depth, corrected, colour, style)
            ax.set_xticks(range(len(family.ticks)), family.ticks, rotation=90, fontsize=7)
            note = ceiling.get("area_note", "")
            ax.set_title(f"{area}\n({note})" if note else area, fontsize=9 if note else 10)
            if column == 0:
                metric = LABELS[scores["comparison"].iloc[0]]
                members = ", ".join(dict.fromkeys(_owner(model, groups) for model in family_models))
                ax.set_ylabel(f"{metric} / ceiling" if corrected else metric)
                ax.annotate(members, (-0.32, 0.5), xycoords="axes fraction", rotation=90, ha="center", va="center",
                            fontsize=8, fontweight="bold")  # fmt: skip
    handles = [Patch(color=colour[name], label=label) for name, label in
               [(n, f"{n} (median ± SD)" if n in groups else n) for n in names]]  # fmt: skip
    by_style = {}
    for style in styles:
        for pathway, linestyle in style.items():
            by_style.setdefault(linestyle, []).append(pathway)
    handles += [Line2D([], [], color="0.2", linestyle=linestyle, label="pathway " + ", ".join(dict.fromkeys(names)))
                for linestyle, names in by_style.items()]  # fmt: skip
    comparison = scores["comparison"].iloc[0]
    split_half = scores["ceiling_median"].notna().any()
    if corrected:
        handles.append(Line2D([], [], color="0.3", linestyle="--", label=NOISE_FREE))
    elif split_half:
        handles.append(Patch(color="0.6", alpha=0.4, label=ceiling_label(comparison)))
    figure.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize=8, frameon=False)
    figure.suptitle(title)
    if "ceiling_lower" in scores and scores["ceiling_lower"].notna().any():
        why = (
            "they compare one animal's all-trial RDM with the others', a scale a half-trial score does not share"
            if split_half
            else "they were published with the RDMs, computed with their authors' comparison and data"
        )
        figure.text(0.0, -0.02, f"Ceiling bounds are not drawn: {why} (table: ceiling_lower, ceiling_upper).",
                    fontsize=7, ha="left", va="top")  # fmt: skip
    figure.tight_layout()
    return figure
