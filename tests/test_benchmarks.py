"""The device check script runs: on torch's CPU backend its accelerator code is the torch path, so
a session lent a GPU finds it working (the numbers come from that run, not from here)."""

import re
import subprocess
import sys

from conftest import ROOT


def test_the_device_checks_run_and_the_torch_counts_equal_the_numba_ones():
    result = subprocess.run([sys.executable, str(ROOT / "scripts/benchmarks/gpu.py"), "--device", "cpu", "--quick"],
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    kendall = [line for line in result.stdout.splitlines() if line.startswith(("tau-a", "tau-b"))]
    assert len(kendall) == 6 and all(line.endswith("largest difference 0.0e+00") for line in kendall), kendall
    assert re.search(r"permutation p of a compare job .* projected for the default 1000", result.stdout)
    assert "tau-a of the RDMs 1.000000" in result.stdout and "encoding, 118 stimuli" in result.stdout
