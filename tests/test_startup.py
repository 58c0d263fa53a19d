"""A job's fixed cost: what its script imports, and numba's kernels from the on-disk cache.

Times are the benchmark's (scripts/benchmarks/startup.py); these tests check what makes them: a
statistics or data job imports no plotting stack and no torch, and kernels that two jobs compiled
at the same moment into one cache load from it in the next job without compiling.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

spec = importlib.util.spec_from_file_location("startup", ROOT / "scripts" / "benchmarks" / "startup.py")
startup = sys.modules["startup"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(startup)

HEAVY = ("rsatoolbox", "matplotlib", "sklearn", "plotly", "torch")
# Jobs that draw need the plotting stack; jobs that run a network (or the himalaya solver, which
# imports torch's backends lazily but sklearn for its folds) need torch or sklearn.
ALLOWED = {
    "figure": {"matplotlib", "plotly", "sklearn"},
    "best_layer_figure": {"matplotlib", "plotly"},
    "interactive_figures": {"plotly", "matplotlib"},
    "extract_activations": {"torch"},
    "embedded_cache": {"torch", "sklearn"},
    "embedded_unit_drives": {"torch", "sklearn"},
    "stimuli": {"sklearn"},
    "recordings": {"sklearn"},
}


def imported(job: startup.Job) -> set[str]:
    """Top-level packages in sys.modules after the job's start-up."""
    code = job.code + "\nimport json\nprint(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize("rule", sorted(rule for rule, job in startup.rule_jobs(ROOT).items() if job.environment == "main"))
def test_a_job_imports_only_what_it_uses(rule):
    job = startup.rule_jobs(ROOT)[rule]
    heavy = imported(job) & set(HEAVY)
    assert heavy <= ALLOWED.get(rule, set()), f"{rule} ({job.what}) imports {sorted(heavy - ALLOWED.get(rule, set()))}"


def test_kernels_two_jobs_compiled_at_once_load_from_the_cache(tmp_path):
    """Two processes compile the Kendall counts into one empty cache at the same time (as two jobs,
    or two cluster nodes on a shared filesystem, do); a third then loads every kernel it calls from
    that cache and compiles none."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(ROOT / "scripts")}
    call = startup.KERNELS.replace('if "brainlike.compare" in sys.modules:', "if True:")
    first = [subprocess.Popen([sys.executable, "-c", "import sys\n" + call], env=env) for _ in range(2)]
    assert [process.wait(timeout=600) for process in first] == [0, 0]
    report = """
import json
from numba.core.registry import CPUDispatcher
import brainlike.compare as module
used = [f for f in vars(module).values() if isinstance(f, CPUDispatcher) and f.signatures]
print(json.dumps({f.__name__: [sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values())] for f in used}))
"""
    result = subprocess.run([sys.executable, "-c", "import sys\n" + call + report], env=env, capture_output=True, text=True, check=True)
    stats = json.loads(result.stdout.splitlines()[-1])
    assert stats and all(hits > 0 and misses == 0 for hits, misses in stats.values()), stats
