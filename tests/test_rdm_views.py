"""RDM views: the clustering order finds planted groups of stimuli, ranks are dense ranks, the
layer's MDS is turned onto the brain's."""

import numpy as np
from scipy.spatial.distance import pdist, squareform
from scipy.stats import rankdata

from brainlike.figures.rdm_views import cluster_order, rank_rdm_unit, rdm_views


def planted_rdm(rng, groups=3, per_group=8):
    """Stimuli in planted groups, listed in a shuffled order: (RDM, group of each stimulus)."""
    labels = rng.permutation(np.repeat(np.arange(groups), per_group))
    centres = rng.normal(size=(groups, 5)) * 10
    patterns = centres[labels] + rng.normal(size=(len(labels), 5))
    return squareform(pdist(patterns)), labels


def test_cluster_order_puts_each_planted_group_together():
    rdm, labels = planted_rdm(np.random.default_rng(0))
    ordered = labels[cluster_order(rdm)]
    assert np.count_nonzero(np.diff(ordered)) == 2  # three runs, one per group
    assert sorted(cluster_order(rdm)) == list(range(len(labels)))


def test_ranks_are_dense_ranks_scaled_to_one():
    rdm, _labels = planted_rdm(np.random.default_rng(1))
    rdm[0, 1] = rdm[1, 0] = rdm[2, 3] = rdm[3, 2] = 0.5  # a tie
    vector = squareform(rank_rdm_unit(rdm), checks=False)
    expected = rankdata(squareform(rdm, checks=False), method="dense") - 1
    np.testing.assert_allclose(vector, expected / expected.max())


def test_the_figure_has_a_column_per_area_and_thumbnails_for_scenes():
    rng = np.random.default_rng(2)
    panels = []
    for area in ("VISp", "VISl"):
        brain, _ = planted_rdm(rng)
        noise = squareform(rng.uniform(0, 1, len(brain) * (len(brain) - 1) // 2))
        panels.append({"area": area, "brain": brain, "model": brain + noise, "model_label": "best layer"})
    images = rng.integers(0, 255, (24, 8, 8)).astype(np.uint8)
    figure = rdm_views(panels, images, "test")
    assert len(figure.axes[0].child_axes) == 12  # thumbnails along the first brain RDM
    assert [ax.get_title() for ax in figure.axes[:2]] == ["VISp: brain RDM (all trials)", "VISl: brain RDM (all trials)"]
