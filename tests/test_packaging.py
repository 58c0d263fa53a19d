"""The package declares what it imports, and the workflow runs as a module of another project."""

import ast
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions

from conftest import ROOT, SNAKEMAKE, default_config, write_config

# Imported only where an optional part runs: the AllenSDK environment, torchvision, timm and OpenCLIP models.
OPTIONAL = {"allensdk": "the AllenSDK environment (envs/allensdk.txt)", "torchvision": "extra 'torchvision'",
            "timm": "extra 'zoo'", "open_clip": "extra 'zoo'",
            # The embedded Neuropixels cache's writer, which runs in the AllenSDK environment (allensdk's own dependencies).
            "pynwb": "the AllenSDK environment", "hdmf": "the AllenSDK environment",
            "SimpleITK": "the AllenSDK environment"}  # fmt: skip


def imported_modules() -> set[str]:
    names = set()
    for path in (ROOT / "scripts" / "brainlike").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"brainlike", "__future__"}


def test_every_third_party_import_is_a_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {requirement.split(">")[0].split("=")[0].split("<")[0].strip().lower()
                for requirement in project["dependencies"]}  # fmt: skip
    distributions = packages_distributions()
    missing = {}
    for module in imported_modules() - set(OPTIONAL):
        names = {name.lower() for name in distributions.get(module, [module])}
        if not names & declared:
            missing[module] = sorted(names)
    assert not missing, f"imported by brainlike but not in pyproject.toml's dependencies: {missing}"


def test_the_workflow_runs_as_a_module_of_another_project(tmp_path):
    """As a snakedeploy deployment does: a Snakefile that declares this workflow as a module and
    uses all its rules, with its own config; a dry run plans every stage into that folder."""
    (tmp_path / "workflow").mkdir()
    (tmp_path / "workflow" / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n\n\n'
        f'module brainlike:\n    snakefile:\n        "{ROOT / "workflow" / "Snakefile"}"\n    config:\n        config\n\n\n'
        "use rule * from brainlike\n"
    )
    write_config(tmp_path, default_config())
    result = subprocess.run([*SNAKEMAKE, "-n", "--quiet", "rules"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    counts = {parts[0]: int(parts[1]) for parts in map(str.split, result.stdout.splitlines())
              if len(parts) == 2 and parts[1].isdigit()}  # fmt: skip
    assert counts["embedded_cache"] == 1 and counts["compare"] == 3 * 2 and counts["figure"] == 4
    assert counts["provenance"] == 1
