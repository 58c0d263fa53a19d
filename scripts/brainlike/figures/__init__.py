"""Figures, one module per view; ``save`` writes a figure atomically in each requested format."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # jobs run without a display
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"tau-a": "Kendall τ-a", "tau-b": "Kendall τ-b", "spearman": "Spearman ρ", "pearson": "Pearson r"}


def save(figure, *paths: Path) -> None:
    """Each path gets the figure in its suffix's format, under a temporary name first."""
    for path in map(Path, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.stem + ".partial" + path.suffix)
        figure.savefig(partial, dpi=120, bbox_inches="tight")
        partial.replace(path)
    plt.close(figure)
