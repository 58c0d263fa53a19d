"""RDM views of one stimulus × depth: each area's brain RDM beside the RDM of the layer that scores
best against it, in one stimulus order, and a 2-D metric MDS of the stimuli for each.

The order is an average-linkage clustering of the brain RDM, so blocks the brain groups show as
blocks; the model RDM in the same order shows whether the layer groups the stimuli alike. Both are
drawn as ranks (0–1), which is what a rank comparison such as Kendall's τ sees. The MDS points are
coloured by their place in that order, the layer's turned onto the brain's (Procrustes). Natural scenes get thumbnails along the brain RDM's axis.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
import numpy as np
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial import procrustes
from scipy.spatial.distance import squareform
from sklearn.manifold import MDS

THUMBNAILS = 12  # scenes drawn along the brain RDM's axis, evenly spaced in the shared order


def cluster_order(rdm: np.ndarray) -> np.ndarray:
    """Stimuli in the leaf order of an average-linkage clustering of ``rdm`` (NaN distances as the largest)."""
    vector = squareform(rdm, checks=False)
    vector = np.where(np.isnan(vector), np.nanmax(vector, initial=0.0), vector)
    return leaves_list(linkage(vector, "average"))


def rank_rdm_unit(rdm: np.ndarray) -> np.ndarray:
    """The RDM with its dissimilarities replaced by their ranks scaled to 0–1 (ties share a rank)."""
    vector = squareform(rdm, checks=False)
    order = np.unique(vector, return_inverse=True)[1]
    return squareform(order / max(order.max(), 1))


def embedding(rdm: np.ndarray) -> np.ndarray:
    """A 2-D metric MDS of the stimuli (classical start: the same RDM gives the same picture)."""
    return MDS(n_components=2, metric="precomputed", init="classical_mds", random_state=0).fit_transform(
        np.nan_to_num(rdm, nan=np.nanmax(rdm))
    )


def rdm_views(panels: list[dict], images: np.ndarray | None, title: str):
    """``panels``: per area ``{"area", "brain": n × n, "model": n × n, "model_label"}``; ``images``:
    the stimuli (n × H × W) for thumbnails, or None."""
    figure, axes = plt.subplots(3, len(panels), figsize=(3.3 * len(panels) + 1.2, 9.6), squeeze=False)
    figure.subplots_adjust(top=0.92, bottom=0.07, hspace=0.32, wspace=0.12, right=0.86)
    for column, panel in enumerate(panels):
        order = cluster_order(panel["brain"])
        colour = np.empty(len(order))
        colour[order] = np.arange(len(order))
        for row, (key, label) in enumerate((("brain", f"{panel['area']}: brain RDM (all trials)"),
                                            ("model", panel["model_label"]))):  # fmt: skip
            ax = axes[row, column]
            image = ax.imshow(rank_rdm_unit(panel[key])[np.ix_(order, order)], cmap="viridis", vmin=0, vmax=1)
            ax.set_title(label, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        if images is not None:
            shown = np.linspace(0, len(order) - 1, THUMBNAILS).round().astype(int)
            for place in shown:
                inset = axes[0, column].inset_axes([place / len(order) - 0.04, -0.1, 0.08, 0.08])
                inset.imshow(images[order[place]], cmap="gray")
                inset.axis("off")
        ax = axes[2, column]
        # Each MDS is unique up to rotation and reflection: the layer's is turned onto the brain's.
        brain_xy, model_xy, _disparity = procrustes(embedding(panel["brain"]), embedding(panel["model"]))
        markers = (("o", "brain"), ("^", "layer (Procrustes-aligned)"))
        for xy, (marker, _name) in zip((brain_xy, model_xy), markers):
            ax.scatter(*xy.T, c=colour, cmap="viridis", s=10, marker=marker, alpha=0.8, edgecolors="none")
        ax.set_title("MDS of the stimuli (colour: the order above)", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        handles = [Line2D([], [], marker=marker, linestyle="none", color="0.4", label=name) for marker, name in markers]
        ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, frameon=False)
    bar = figure.add_axes([0.89, 0.45, 0.015, 0.4])
    figure.colorbar(image, cax=bar, label="dissimilarity rank (0–1)")
    figure.suptitle(title)
    return figure
