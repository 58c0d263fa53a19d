"""Snakemake's command line in a process forked from a server that has imported Snakemake, its
plugins and the workflow's own modules once, for the suite's many dry runs.

A dry run spends most of its 2 s importing; forked from the server it takes about 0.4 s. Each
call is a new process (the server's state is copied, never reused), run with the caller's working
directory and environment, its output captured at the file descriptors as a subprocess's is.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import wait

# What a dry run of the workflow imports: Snakemake, its plugins and reports, the workflow's modules,
# and torch with the model families for a model entry whose architecture is checked at plan time.
PRELOAD = [
    "snakemake.cli", "snakemake.api", "snakemake.workflow", "snakemake.utils", "requests", "jinja2", "docutils.core",
    "smart_open", "pygments.lexers", "jsonschema", "PIL.Image", "yte", "dpath", "platformdirs", "brainlike.configs",
    "brainlike.allen_index", "brainlike.ecephys_index", "brainlike.modalities", "brainlike.depths",
    "brainlike.model_checks", "brainlike.model_groups", "brainlike.devices", "brainlike.models",
    "brainlike.visualnet", "efficientnet_lite_pytorch", "torchvision.models",
]  # fmt: skip

_SERVER = multiprocessing.get_context("forkserver")
_SERVER.set_forkserver_preload([*PRELOAD, __name__])
# A child's exit code is a message on its sentinel that only one reader gets; multiprocessing polls
# every live child at each start(), so a start in one thread can race the join of another, and the
# loser reads EOF and records exit code 255 (a complete dry run reported as failed). Reading
# exit codes under one lock keeps the dry runs of several threads in parallel and their codes right.
_EXIT_CODES = threading.Lock()


def _main(argv: list[str], cwd: str, environment: dict[str, str], stdout: str, stderr: str) -> None:
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(cwd)
    for descriptor, path in ((1, stdout), (2, stderr)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), descriptor)
    sys.argv = ["snakemake", *argv]
    from snakemake.cli import main

    main(argv)  # exits: the process's exit code is Snakemake's


def run(argv: list[str]) -> subprocess.CompletedProcess:
    """``snakemake *argv`` as ``subprocess.run(..., capture_output=True, text=True)`` would give it."""
    with tempfile.TemporaryDirectory() as folder:
        stdout, stderr = os.path.join(folder, "stdout"), os.path.join(folder, "stderr")
        process = _SERVER.Process(target=_main, args=(list(argv), os.getcwd(), dict(os.environ), stdout, stderr))
        with _EXIT_CODES:
            process.start()
        wait([process.sentinel])
        with _EXIT_CODES:
            process.join()
        with open(stdout) as out, open(stderr) as err:
            return subprocess.CompletedProcess(["snakemake", *argv], process.exitcode, out.read(), err.read())
