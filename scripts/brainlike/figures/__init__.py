"""Figures, one module per view; ``save`` writes a figure atomically in each requested format."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
from PIL import Image

matplotlib.use("Agg")  # jobs run without a display
import matplotlib.pyplot as plt  # noqa: E402

# What a score is (a table's comparison column): an RSA comparison, or another metric.
LABELS = {
    "tau-a": "Kendall τ-a", "tau-b": "Kendall τ-b", "spearman": "Spearman ρ", "pearson": "Pearson r",
    "ridge": "encoding r (ridge)", "cka": "debiased linear CKA",
}  # fmt: skip
# The ceiling line and the noise correction, where a metric's differ from RSA's split-half ones.
CEILINGS = {
    "ridge": "ceiling: √ median split-half reliability of the cells, on trials that did not select them",
    "cka": "ceiling: √(split-half CKA), median ± SD",
}
CORRECTIONS = {
    "ridge": "median r / √(cells' median reliability on other trials), over √prediction reliability",
    "cka": "score / √(split-half CKA) median",
}
# What a noise-corrected view's line at 1 is: the same for every metric (frame.metric_table).
NOISE_FREE = "1: a model equal to the noise-free response"


def ceiling_label(comparison: str) -> str:
    return CEILINGS.get(comparison, "split-half noise ceiling (median ± SD)")


def correction_label(comparison: str) -> str:
    return CORRECTIONS.get(comparison, "score / the noise-free model's score, from the split-half ceiling")


def save(figure, *paths: Path) -> None:
    """Each path gets the figure in its suffix's format, under a temporary name first. A PNG is
    stored with a palette of 256 colours: it looks the same (a colour map has 256 levels) at a
    quarter of the bytes or less, which the report embeds once per figure."""
    for path in map(Path, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.stem + ".partial" + path.suffix)
        if path.suffix == ".png":
            rendered = io.BytesIO()
            figure.savefig(rendered, format="png", dpi=120, bbox_inches="tight")
            with Image.open(rendered) as image:
                image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(partial, optimize=True)
        else:
            figure.savefig(partial, dpi=120, bbox_inches="tight")
        partial.replace(path)
    plt.close(figure)
