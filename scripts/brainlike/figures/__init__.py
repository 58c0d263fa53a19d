"""Figures, one module per view; ``save`` writes a figure atomically in each requested format."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # jobs run without a display
import matplotlib.pyplot as plt  # noqa: E402

# What a score is (a table's comparison column): an RSA comparison, or another metric.
LABELS = {
    "tau-a": "Kendall τ-a", "tau-b": "Kendall τ-b", "spearman": "Spearman ρ", "pearson": "Pearson r",
    "ridge": "encoding r (ridge)", "cka": "debiased linear CKA",
}  # fmt: skip
# The ceiling line and the noise correction, where a metric's differ from RSA's split-half ones.
CEILINGS = {
    "ridge": "ceiling: median √(split-half reliability) of the cells",
    "cka": "ceiling: √(split-half CKA), median ± SD",
}
CORRECTIONS = {"ridge": "median over cells of r / √reliability", "cka": "score / √(split-half CKA) median"}


def ceiling_label(comparison: str) -> str:
    return CEILINGS.get(comparison, "split-half noise ceiling (median ± SD)")


def correction_label(comparison: str) -> str:
    return CORRECTIONS.get(comparison, "score / split-half ceiling median")


def save(figure, *paths: Path) -> None:
    """Each path gets the figure in its suffix's format, under a temporary name first."""
    for path in map(Path, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.stem + ".partial" + path.suffix)
        figure.savefig(partial, dpi=120, bbox_inches="tight")
        partial.replace(path)
    plt.close(figure)
