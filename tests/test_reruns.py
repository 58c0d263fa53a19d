"""Reruns follow what changed: every config key, walked from the schema, against a declared map.

For each key, a copy of a completed run's config gets another valid value at that key; Snakemake's
dry run then says which jobs it would run. tests/rerun_map.yaml declares, per key, the jobs per
rule that must rerun (and, where the schema alone cannot give one, the value to try and the
completed run to try it on). A schema key missing from the map fails the test, so a new key
cannot be forgotten.
"""

from __future__ import annotations

import copy
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import (
    ALLEN_OVERLAY,
    PUBLISHED,
    ROOT,
    copy_of_run,
    digest,
    group_config,
    metrics_config,
    neuropixels_config,
    own_base_config,
    rdms_config,
    small_config,
    snakemake,
)

from brainlike.configs import merged

SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
MAP = yaml.safe_load((Path(__file__).parent / "rerun_map.yaml").read_text())
# Completed runs the keys are changed on: the embedded default, the same data read as real Allen
# data (data.source allen), and the own-data example.
OWN_OVERLAY = yaml.safe_load((ROOT / "config/own_data_example.yaml").read_text())


def schema_keys(node: dict = SCHEMA, prefix: str = "") -> list[str]:
    """Every key a config can set: object properties recursively; for a mapping of named entries
    (models, embedded.areas) the mapping itself (add an entry) and each property of an entry (*)."""
    keys = []
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        child = _object_alternative(child)
        entry = child.get("additionalProperties")
        if "properties" in child:
            keys.extend(schema_keys(child, path + "."))
        elif isinstance(entry, dict) and "properties" in entry:
            keys.append(path)
            keys.extend(schema_keys(entry, path + ".*."))
        else:
            keys.append(path)
    return keys


def _object_alternative(node: dict) -> dict:
    """A key that is null or an object with properties (data.own): the object's keys are the keys."""
    alternatives = node.get("oneOf", [])
    objects = [alternative for alternative in alternatives if "properties" in alternative]
    if len(objects) == 1 and all(alternative.get("type") == "null" for alternative in alternatives if alternative is not objects[0]):
        return objects[0]
    return node


def schema_at(key: str) -> dict:
    node = SCHEMA
    for part in key.split("."):
        node = _object_alternative(node)
        node = node["additionalProperties"] if part == "*" else node["properties"][part]
    return node


def concrete(key: str, config: dict, entry: str | None = None) -> list[str]:
    """The key's path in a config: * is ``entry``, else the mapping's first entry."""
    parts, node = [], config
    for part in key.split("."):
        if part == "*":
            part = entry or next(iter(node))
        parts.append(part)
        node = node[part] if isinstance(node, dict) and part in node else {}
    return parts


def current_value(config: dict, parts: list[str]):
    node = config
    for part in parts:
        node = node[part]
    return node


def other_value(key: str, current):
    """Another valid value from the schema alone, where the schema says enough."""
    node = schema_at(key)
    if "enum" in node:
        values = node["enum"]
        return values[(values.index(current) + 1) % len(values)]
    kind = node.get("type")
    if kind == "boolean":
        return not current
    if kind == "integer" and current is not None:
        return current + 1 if current + 1 <= node.get("maximum", np.inf) else current - 1
    if kind == "number" and current:
        return current / 2
    if kind == "array" and len(current) > max(node.get("minItems", 0), 1):
        return current[:-1]
    raise KeyError(f"{key}: the schema gives no other value of {current!r}; set `value` in rerun_map.yaml")


def with_change(config: dict, parts: list[str], value) -> dict:
    changed = copy.deepcopy(config)
    node = changed
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return changed


def dry_run_counts(workdir: Path, config: dict, name: str) -> dict[str, int]:
    path = workdir.parent / f"{workdir.name}-{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = snakemake(workdir, "-n", "--quiet", "rules", "--configfile", str(path), check=False)
    path.unlink()
    if result.returncode != 0:
        raise AssertionError(
            f"dry run with {name} exited {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    counts = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("all", "total"):
            counts[parts[0]] = int(parts[1])
    # The provenance table documents every result (and the config): it reruns exactly when anything
    # does (anything but the tables of modality entries put together, which have none of their own).
    provenance = counts.pop("provenance", 0)
    if provenance != int(bool(set(counts) - {"modalities_tables"})):
        raise AssertionError(f"{name}: provenance reruns {provenance} time(s) beside {counts}")
    return counts


@pytest.fixture(scope="module")
def bases(workflow_run, allen_run, own_run, groups_run, metrics_run, neuropixels_run, rdms_run) -> dict[str, tuple[Path, dict]]:
    return {
        "rdms": (rdms_run, rdms_config()),
        "neuropixels": (neuropixels_run, neuropixels_config()),
        "embedded": (workflow_run, small_config()),
        "metrics": (metrics_run[0], metrics_config()),
        "allen": (allen_run, merged(small_config(), ALLEN_OVERLAY)),
        "own": (own_run, merged(own_base_config(), OWN_OVERLAY)),
        "groups": (groups_run, group_config()),
    }


def test_every_schema_key_is_in_the_map():
    keys = schema_keys()
    assert len(keys) > 60
    assert sorted(set(keys) - set(MAP)) == [], "declare these keys in tests/rerun_map.yaml"
    assert sorted(set(MAP) - set(keys)) == [], "these keys of tests/rerun_map.yaml are not in the schema"


def test_each_key_reruns_exactly_its_declared_jobs(bases):
    def observe(key: str) -> tuple[str, dict, dict]:
        entry = MAP[key]
        workdir, config = bases[entry.get("base", "embedded")]
        parts = concrete(key, config, entry.get("entry"))
        value = entry["value"] if "value" in entry else other_value(key, current_value(config, parts))
        changed = merged(with_change(config, parts, value), entry.get("with", {}))
        return key, dry_run_counts(workdir, changed, key.replace("*", "_")), entry["rerun"]

    for name, (workdir, config) in bases.items():
        assert dry_run_counts(workdir, config, "unchanged") == {}, f"the {name} run is not complete"
    with ThreadPoolExecutor(max_workers=2) as pool:
        observed = list(pool.map(observe, MAP))
    wrong = {key: {"declared": declared, "dry run": counts} for key, counts, declared in observed if counts != declared}
    assert not wrong, yaml.safe_dump(wrong, sort_keys=False)


def test_allen_source_on_the_generated_cache_equals_the_embedded_run(allen_run):
    """data.source allen, the network unreachable, reads the generated cache through the index and
    the per-file inputs: every scene population's responses are byte for byte the embedded run's,
    and so are its rows of the tables (the FDR family is the model × stimulus, so q too)."""
    responses = sorted((allen_run / "results_allen" / "responses" / "natural_scenes").glob("*/*"))
    assert len(responses) == 20  # 5 areas × 2 depths, an npz and its description each
    for path in responses:
        relative = path.relative_to(allen_run / "results_allen")
        assert path.read_bytes() == (allen_run / "results" / relative).read_bytes(), relative
    for name in ("scores.parquet", "populations.csv"):
        read = pd.read_parquet if name.endswith(".parquet") else pd.read_csv
        ours = read(allen_run / "results_allen" / "tables" / name)
        embedded = read(allen_run / "results" / "tables" / name)
        embedded = embedded[embedded["stimulus"] == "natural_scenes"].reset_index(drop=True)
        pd.testing.assert_frame_equal(ours, embedded, check_exact=True)


def test_two_results_folders_do_not_touch_each_other(allen_run, workflow_results_digest):
    """The allen run went to results_allen in the embedded run's folder: the embedded results are
    exactly as they were (every file's bytes), and nothing of the allen run is outside its folder."""
    assert digest(allen_run / "results") == workflow_results_digest
    outside = {path.name for path in allen_run.iterdir()} - {"results", "results_allen", "config", ".snakemake",
                                                              "results_rdms", PUBLISHED}  # the rdms run's, if it ran
    assert not outside, outside


@pytest.mark.parametrize(
    "kind, target, expected",
    [
        ("array", "config/examples/own_data/mouse1_V1.npy", {"recordings": 1, "responses": 1, "brain_rdms": 1,
                                                              "noise_ceiling": 1, "compare": 1, "tables": 1, "groups": 1,
                                                              "figure": 1, "best_layer_figure": 1, "interactive_figures": 1}),
        ("manifest", "config/examples/own_data/manifest.csv", {"recordings": 2, "responses": 2, "brain_rdms": 2,
                                                               "noise_ceiling": 2, "compare": 1, "tables": 1, "groups": 1,
                                                               "figure": 1, "best_layer_figure": 1, "interactive_figures": 1}),
        ("image", "config/examples/own_data/stimuli/image_03.png", {"stimuli": 1, "recordings": 2, "responses": 2,
                                                                    "brain_rdms": 2, "noise_ceiling": 2,
                                                                    "extract_activations": 1, "model_rdms": 1,
                                                                    "compare": 1, "tables": 1, "groups": 1, "figure": 1,
                                                                    "best_layer_figure": 1, "interactive_figures": 1}),
    ],
)  # fmt: skip
def test_a_replaced_own_data_file_reruns_its_dependants_only(own_run, tmp_path, kind, target, expected):
    workdir = tmp_path / "own"
    shutil.copytree(own_run, workdir)
    config = merged(own_base_config(), OWN_OVERLAY)
    assert dry_run_counts(workdir, config, "unchanged") == {}
    path = workdir / target
    if kind == "array":
        array = np.load(path)
        np.save(path, array[::-1].copy())  # the trials in another order: same shape, other content
    elif kind == "manifest":
        path.write_text(path.read_text().replace("mouse2,", "mouse3,"))  # the animal, not its file
    else:
        from skimage import io

        io.imsave(path, 255 - io.imread(path), check_contrast=False)  # the image inverted
    assert dry_run_counts(workdir, config, kind) == expected


def test_a_file_written_anew_with_the_same_bytes_reruns_nothing(own_run, tmp_path):
    """Snakemake keeps checksums of small inputs: a newer time alone is not a change."""
    workdir = tmp_path / "own"
    shutil.copytree(own_run, workdir)
    config = merged(own_base_config(), OWN_OVERLAY)
    for name in ("manifest.csv", "stimuli/image_03.png", "mouse1_V1.npy"):
        path = workdir / "config" / "examples" / "own_data" / name
        path.write_bytes(path.read_bytes())
    assert dry_run_counts(workdir, config, "same bytes") == {}


def test_a_replaced_checkpoint_reruns_its_model_only(workflow_run, tmp_path):
    """A model whose weights are a state dict on disk: a new file at the same path reruns that
    model's jobs and nothing of the other model or the data (on the scenes: the movie's jobs are
    keyed by the model alike)."""
    import torch

    from brainlike.models import load_model

    workdir = tmp_path / "run"
    copy_of_run(workflow_run, workdir)
    config = merged(small_config(), {"data": {"stimuli": ["natural_scenes"]}})
    random = {"family": "torchvision", "variant": "resnet18", "weights": {"random_seed": 3}, "pathways": {"main": None},
              "input": {"size": 32, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}  # fmt: skip
    state = workdir / "weights.pt"
    torch.save(load_model("saved", random).network.state_dict(), state)
    config["models"]["saved"] = random | {"weights": {"checkpoint": str(state)}}
    path = workdir / "with_saved.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake(workdir, "--cores", "2", "--configfile", str(path))
    assert dry_run_counts(workdir, config, "unchanged") == {}
    torch.save(load_model("saved", random | {"weights": {"random_seed": 4}}).network.state_dict(), state)
    assert dry_run_counts(workdir, config, "checkpoint") == {
        "extract_activations": 1, "model_rdms": 1, "compare": 1, "tables": 1, "groups": 1, "figure": 2,
        "best_layer_figure": 1, "interactive_figures": 1,
    }  # fmt: skip
