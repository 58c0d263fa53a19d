"""Figures: scores over layers per area, with the noise ceilings (split-half band, between-animal bounds)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # jobs run without a display
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


LABELS = {"tau-a": "Kendall τ-a", "tau-b": "Kendall τ-b", "spearman": "Spearman ρ", "pearson": "Pearson r"}


def scores_over_layers(scores: pd.DataFrame, title: str, path: Path) -> None:
    """One panel per area: the score per layer with its stimulus-bootstrap interval, the split-half
    ceiling median ± SD in grey, the between-animal bounds dotted."""
    areas = list(dict.fromkeys(scores["area"]))
    grid = sns.FacetGrid(scores, col="area", col_order=areas, col_wrap=min(len(areas), 3),
                         height=3.2, aspect=1.3, sharey=True)  # fmt: skip
    for area, axes in zip(areas, grid.axes.flat):
        panel = scores[scores["area"] == area]
        for (model, pathway), line in panel.groupby(["model", "pathway"], sort=False):
            line = line.sort_values("layer_index")
            interval = [line["score"] - line["ci_low_stimuli"], line["ci_high_stimuli"] - line["score"]]
            axes.errorbar(line["layer_index"], line["score"], yerr=interval, marker="o", markersize=3,
                          capsize=2, label=f"{model} / {pathway}")  # fmt: skip
        ceiling = panel.iloc[0]
        axes.axhline(ceiling["ceiling_median"], color="0.3", linestyle="--", linewidth=1)
        axes.axhspan(ceiling["ceiling_median"] - ceiling["ceiling_sd"],
                     ceiling["ceiling_median"] + ceiling["ceiling_sd"], color="0.5", alpha=0.3, linewidth=0)  # fmt: skip
        for bound in ("ceiling_lower", "ceiling_upper"):
            axes.axhline(ceiling[bound], color="0.3", linestyle=":", linewidth=1)
        ticks = panel.drop_duplicates("layer_index").sort_values("layer_index")
        axes.set_xticks(ticks["layer_index"], ticks["layer"], rotation=90, fontsize=7)
        note = panel["area_note"].iloc[0] if "area_note" in panel else ""
        axes.set_title(f"{area}\n({note})" if note else area, fontsize=9 if note else None)
        axes.set_xlabel("")
    grid.axes.flat[0].set_ylabel(LABELS[scores["comparison"].iloc[0]])
    grid.axes.flat[0].legend(fontsize=7, loc="upper right")
    grid.figure.suptitle(title)
    grid.figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial" + path.suffix)
    grid.figure.savefig(partial, dpi=120)
    plt.close(grid.figure)
    partial.replace(path)
