"""Benchmark: the fixed cost of every rule's job (interpreter, imports, compiled kernels) before any work.

A Snakemake script job starts a fresh interpreter, imports Snakemake's script preamble, runs the
script's imports, and (for the statistics rules) loads the compiled Kendall counts. For each rule
with a script this runs exactly that in a fresh interpreter: the preamble import, the script's own
top-level import statements, and, where those imports bring in ``brainlike.compare``, one tiny
τ-a so numba loads its kernels from the on-disk cache. A rule whose shell runs ``python -m MODULE``
in the AllenSDK environment is measured as that module's import there (the embedded and Allen
sources' rules). With ``--against REV`` the same is measured
for another commit (a temporary git worktree of it) in the same run, side by side, with the ratio.
Target: at most 2 s per rule on this 2-core machine.

    .venvs/main/bin/python scripts/benchmarks/startup.py [--against REV] [--repeats 5]
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULE = re.compile(r"^\s*(?:rule|checkpoint) (\w+):", re.MULTILINE)
SCRIPT = re.compile(r'^\s+script:\s*\n\s+"\.\./\.\./scripts/([\w/]+\.py)"', re.MULTILINE)
MODULE = re.compile(r'"\{params\.python\} -m ([\w.]+)')
ENVIRONMENTS = {"main": ".venvs/main/bin/python", "allensdk": ".venvs/allensdk/bin/python"}
# What runs after the imports where the kernels are there to load (numba compiles on a cold cache).
KERNELS = """
if "brainlike.compare" in sys.modules:
    import numpy as np
    from brainlike.compare import compare
    compare(np.arange(6.0)[None], np.arange(6.0)[::-1][None].copy(), "tau-a")
"""


@dataclass(frozen=True)
class Job:
    environment: str  # a key of ENVIRONMENTS
    what: str  # the script under scripts/, or the module run with -m
    code: str  # what the job runs before its first line of work


def rule_jobs(root: Path) -> dict[str, Job]:
    """Each rule that runs a script or a ``python -m`` module, and its start-up as code."""
    jobs = {}
    for path in sorted((root / "workflow" / "rules").glob("*.smk")):
        text = path.read_text()
        starts = [match.start() for match in RULE.finditer(text)] + [len(text)]
        for start, end in zip(starts, starts[1:]):
            body = text[start:end]
            rule = RULE.match(body).group(1)
            if script := SCRIPT.search(body):
                code = "import sys\nimport snakemake.script\n" + import_block(root / "scripts" / script.group(1)) + KERNELS
                jobs[rule] = Job("main", script.group(1), code)
            elif module := MODULE.search(body):
                jobs[rule] = Job("allensdk", f"-m {module.group(1)}", f"import {module.group(1)}")
    return jobs


def import_block(script: Path) -> str:
    """The script's top-level imports, as source."""
    tree = ast.parse(script.read_text())
    statements = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(ast.unparse(node) for node in statements)


def job_start(root: Path, job: Job) -> float:
    """Seconds from a fresh interpreter's start to the end of the job's imports and kernel load."""
    env = {**os.environ, "PYTHONPATH": str(root / "scripts")}
    started = time.perf_counter()
    subprocess.run([ROOT / ENVIRONMENTS[job.environment], "-c", job.code], check=True, env=env, cwd=root, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(root: Path, repeats: int) -> dict[str, float]:
    """Median over ``repeats`` runs per rule, after one run that fills numba's cache."""
    times = {}
    for rule, job in rule_jobs(root).items():
        job_start(root, job)
        times[rule] = statistics.median(job_start(root, job) for _ in range(repeats))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", help="a commit to measure side by side (e.g. the one before a change)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    jobs = rule_jobs(ROOT)
    ours = measure(ROOT, args.repeats)
    theirs = {}
    if args.against:
        with tempfile.TemporaryDirectory() as folder:
            worktree = Path(folder) / "against"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(worktree), args.against], check=True)
            try:
                theirs = measure(worktree, args.repeats)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=True)
    header = f"{'rule':<20}{'environment':<12}{'runs':<30}{'this tree':>10}"
    if theirs:
        header += f"{args.against[:12]:>13}{'ratio':>8}"
    print(header)
    for rule, seconds in sorted(ours.items(), key=lambda item: -item[1]):
        line = f"{rule:<20}{jobs[rule].environment:<12}{jobs[rule].what:<30}{seconds:>9.2f}s"
        if rule in theirs:
            line += f"{theirs[rule]:>12.2f}s{theirs[rule] / seconds:>7.1f}x"
        print(line)
    slowest = max(ours, key=ours.get)
    print(f"slowest start: {slowest} {ours[slowest]:.2f} s (target: at most 2 s); median of {args.repeats} runs each")


if __name__ == "__main__":
    main()
