"""A real single-node SLURM cluster on this machine, for the test suite.

Debian's slurm-wlm (slurmctld, slurmd, munge), started without systemd with a configuration of our
own, state in a temporary folder, and stopped by the pids it started. slurm.conf must be at
/etc/slurm/slurm.conf: the executor plugin's job step drops SLURM_CONF. Needs root.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

CONF = Path("/etc/slurm/slurm.conf")
DAEMONS = ("munged", "slurmctld", "slurmd")


def available() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if os.geteuid() != 0:
        return "starting SLURM daemons needs root"
    missing = [tool for tool in (*DAEMONS, "sbatch", "sinfo") if shutil.which(tool) is None]
    if missing:
        return f"SLURM packages not installed ({', '.join(missing)}); scripts/run-tests.sh installs them as root"
    if CONF.exists() and "brainlike-test" not in CONF.read_text():
        return f"{CONF} belongs to another SLURM installation; not touching it"
    return None


def _node_resources() -> tuple[str, int, int]:
    described = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(item.split("=", 1) for item in described.split() if "=" in item)
    # Declaring more memory than slurmd sees drains the node.
    return socket.gethostname().split(".")[0], int(fields["CPUs"]), int(int(fields["RealMemory"]) * 0.95)


class Cluster:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.jobcomp = self.folder / "jobcomp.txt"
        self.pids: list[int] = []
        self.node = ""

    def start(self, timeout_seconds: float = 60) -> None:
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.node, cpus, memory = _node_resources()
        CONF.parent.mkdir(parents=True, exist_ok=True)
        CONF.write_text(
            f"""# brainlike-test: written by tests/slurm_cluster.py
ClusterName=brainlike
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
StateSaveLocation={self.folder}/state
SlurmdSpoolDir={self.folder}/spool
SlurmctldPidFile={self.folder}/slurmctld.pid
SlurmdPidFile={self.folder}/slurmd.pid
SlurmctldLogFile={self.folder}/slurmctld.log
SlurmdLogFile={self.folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=300
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
        )
        munge_run = Path("/run/munge")
        munge_run.mkdir(parents=True, exist_ok=True)
        shutil.chown(munge_run, "munge", "munge")
        munge_run.chmod(0o755)  # every user's jobs must reach the socket
        key = Path("/etc/munge/munge.key")
        shutil.chown(key, "munge", "munge")
        key.chmod(0o400)
        munged = subprocess.Popen(
            ["runuser", "-u", "munge", "--", "munged", "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.pids.append(munged.pid)
        time.sleep(1)
        for daemon in ("slurmctld", "slurmd"):
            process = subprocess.Popen([daemon, "-D"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.pids.append(process.pid)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout.strip()
            if state == "idle":
                return
            if state.startswith(("down", "drain")):
                subprocess.run(["scontrol", "update", f"NodeName={self.node}", "State=RESUME"], capture_output=True)
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"the SLURM node did not become idle in {timeout_seconds} s (sinfo: {state!r})")

    def completed_jobs(self) -> list[dict[str, str]]:
        """The controller's own record of every finished job (jobcomp/filetxt)."""
        if not self.jobcomp.exists():
            return []
        jobs = []
        for line in self.jobcomp.read_text().splitlines():
            jobs.append(dict(field.split("=", 1) for field in line.split() if "=" in field))
        return jobs

    def stop(self) -> None:
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for pid in self.pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.pids.clear()
        if CONF.exists() and "brainlike-test" in CONF.read_text():
            CONF.unlink()
