"""Group declarations in the config expand into member models; mistakes are named."""

import subprocess
import sys

import pytest
from conftest import ROOT

from brainlike.model_groups import expand_models

VIDEO = {"family": "two_pathway_video", "input": {"size": 64}, "pathways": {"p1": None}}


def test_members_expand_into_models_of_one_group_without_the_grouping_keys():
    models, groups, declared = expand_models({
        "lite": {"family": "efficientnet_lite", "weights": "imagenet", "group": "trained", "input": {}, "pathways": {}},
        "rat": {**VIDEO, "group": "rat", "members": {"checkpoints": ["m/rat1.ckpt", "m/rat2.ckpt"]}},
        "random": {**VIDEO, "members": {"random_seeds": [3, 4]}},
    })  # fmt: skip
    assert list(models) == ["lite", "rat_rat1", "rat_rat2", "random_seed3", "random_seed4"]
    assert groups == {"trained": ["lite"], "rat": ["rat_rat1", "rat_rat2"], "random": ["random_seed3", "random_seed4"]}
    assert models["rat_rat2"]["weights"] == {"checkpoint": "m/rat2.ckpt"}
    assert models["random_seed4"]["weights"] == {"random_seed": 4}
    assert all("group" not in entry and "members" not in entry for entry in models.values())
    # A member's errors name the entry the user wrote, not the generated name.
    assert declared["lite"] == ("models.lite", "models.lite.weights.checkpoint")
    assert declared["rat_rat2"] == ("models.rat", "models.rat.members.checkpoints")
    assert declared["random_seed3"].entry == "models.random"


@pytest.mark.parametrize(
    "models, message",
    [
        ({"rat": {**VIDEO, "members": {}}}, r"models.rat.members: an empty group"),
        ({"rat": {**VIDEO, "members": {"random_seeds": [1]}}, "rat_seed1": {**VIDEO, "weights": "imagenet"}},
         r"models.rat_seed1: model name 'rat_seed1' is already taken"),
        ({"rat": {**VIDEO, "weights": "imagenet", "members": {"random_seeds": [1]}}}, r"models.rat: members gives"),
        ({"rat": {**VIDEO, "members": {"checkpoints": ["m/rat-1.ckpt"]}}}, r"member name 'rat_rat-1' may hold only"),
        ({"rat": VIDEO}, r"models.rat: set weights"),
    ],
)  # fmt: skip
def test_bad_groups_are_named(models, message):
    with pytest.raises(ValueError, match=message):
        expand_models(models)


def test_the_layer_listing_takes_a_group_entry_or_a_member():
    for name in ("random_lite0", "random_lite0_seed2"):
        result = subprocess.run([sys.executable, "-m", "brainlike.models", name, "--configfile", str(ROOT / "config/config.yaml")],
                                capture_output=True, text=True, cwd=ROOT)  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert {"_blocks.0", "_blocks.15", "_conv_head"} <= set(result.stdout.split())
    result = subprocess.run([sys.executable, "-m", "brainlike.models", "random", "--configfile", str(ROOT / "config/config.yaml")],
                            capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert result.returncode != 0 and "no model 'random'" in result.stderr
