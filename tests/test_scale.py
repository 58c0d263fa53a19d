"""The DAG stays small: the full real-Allen grid with a zoo of 30 models, within a job budget."""

import json
import subprocess
import sys

from conftest import ROOT

# Per model × stimulus: extraction, RDMs, comparison. Per population: responses, brain RDMs,
# noise ceiling. Plus one download per listed container and a handful of report jobs.
JOB_BUDGET = 400


def test_full_grid_with_30_models_stays_within_the_job_budget():
    result = subprocess.run([sys.executable, str(ROOT / "scripts/benchmarks/dag.py"), "--models", "30"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = json.loads(result.stdout)["jobs"]
    assert jobs["extract_activations"] == 31 * 2  # the zoo and the default model, both stimuli
    assert jobs["responses"] == 6 * 2 * 2 and jobs["download_container"] == 63
    assert jobs["total"] <= JOB_BUDGET, jobs
