"""The DAG stays small: the full real-Allen grid with a zoo of 30 models, within a job budget."""

import json
import subprocess
import sys

from conftest import ROOT

# Jobs that run on a cluster's nodes. Per model × stimulus: extraction, RDMs, comparison. Per
# population: recordings, responses, brain RDMs, noise ceiling. Plus a handful of stimulus and report
# jobs. Downloads are local jobs on the submitting machine, one per file, and are counted apart.
JOB_BUDGET = 400


def test_full_grid_with_30_models_stays_within_the_job_budget():
    result = subprocess.run([sys.executable, str(ROOT / "scripts/benchmarks/dag.py"), "--models", "30"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = json.loads(result.stdout)["full_grid"]["jobs"]
    assert jobs["extract_activations"] == (30 + 3) * 2  # the zoo and the default config's three models, both stimuli
    assert jobs["responses"] == jobs["recordings"] == 6 * 2 * 2
    # 63 listed containers and 8 synthetic VISrl ones, each with three sessions' NWB and events files.
    assert jobs["download"] == (63 + 8) * 3 * 2
    assert jobs["total"] - jobs["download"] <= JOB_BUDGET, jobs
