"""The plan's model checks: an architecture that passed is remembered and skipped, anything that
could change its layers checks it again, and the declaration is checked every time."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
from conftest import ROOT, default_config

from brainlike import model_checks, models
from brainlike.model_groups import ConfigKeys

LITE = copy.deepcopy(default_config()["models"]["efficientnet_lite0"])


def check(entries: dict, memory) -> None:
    model_checks.check_models(entries, {name: ConfigKeys.of(name) for name in entries}, memory)


@pytest.fixture
def builds(monkeypatch) -> list[str]:
    """The names whose architecture was built, in order."""
    built = []
    real = models.check_architecture

    def counted(name, architecture, keys):
        built.append(name)
        real(name, architecture, keys)

    monkeypatch.setattr(models, "check_architecture", counted)
    return built


def test_a_passed_architecture_is_built_once_and_a_changed_one_again(tmp_path, builds):
    check({"lite": LITE}, tmp_path)
    check({"lite": LITE, "same": {**LITE, "input": {**LITE["input"], "mean": [0.4] * 3}}}, tmp_path)
    assert builds == ["lite"]  # another normalisation is the same architecture
    with pytest.raises(ValueError, match=r"models\.fewer\.pathways.*_blocks\.99"):
        check({"fewer": {**LITE, "pathways": {"main": ["_blocks.99"]}}}, tmp_path)
    check({"lite": LITE}, tmp_path)  # a failure is not remembered, the pass still is
    assert builds == ["lite", "fewer"]


def test_other_software_checks_the_architecture_again(tmp_path, builds, monkeypatch):
    check({"lite": LITE}, tmp_path)
    software = model_checks._software()
    monkeypatch.setattr(model_checks, "_software", lambda: {**software, "model_code": "edited"})
    check({"lite": LITE}, tmp_path)
    assert builds == ["lite", "lite"]


def test_the_declaration_is_checked_although_the_architecture_is_remembered(tmp_path, builds):
    saved = tmp_path / "weights.pt"
    saved.write_bytes(b"")
    entry = {**LITE, "weights": {"checkpoint": str(saved)}}
    check({"lite": entry}, tmp_path / "memory")
    saved.unlink()
    with pytest.raises(ValueError, match=r"models\.lite\.weights\.checkpoint: no file"):
        check({"lite": entry}, tmp_path / "memory")
    assert builds == ["lite"]


def test_a_users_own_module_is_built_every_time(tmp_path, builds, monkeypatch):
    (tmp_path / "mynets.py").write_text(
        "import torch\n\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.conv = torch.nn.Conv2d(3, 4, 3)\n\n    def forward(self, x):\n        return self.conv(x)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    own = {"family": "torch_module", "module": "mynets:Net", "weights": {"random_seed": 0}, "pathways": {"main": ["conv"]},
           "input": {"size": 16, "mean": [0.5] * 3, "std": [0.5] * 3}}  # fmt: skip
    check({"own": own}, tmp_path / "memory")
    check({"own": own}, tmp_path / "memory")
    assert builds == ["own", "own"]


def test_a_plan_with_remembered_architectures_does_not_import_torch(tmp_path):
    code = (
        "import sys, yaml\nfrom brainlike.model_checks import check_models\nfrom brainlike.model_groups import expand_models\n"
        f"entries, _, declared = expand_models(yaml.safe_load(open({str(ROOT / 'config' / 'config.yaml')!r}))['models'])\n"
        f"check_models(entries, declared, __import__('pathlib').Path({str(tmp_path)!r}))\nprint('torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True) for _ in range(2)]
    assert [run.stdout.strip() for run in runs] == ["True", "False"]
