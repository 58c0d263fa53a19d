"""Downloads: atomic, verified, retried, resumed; corrupt files named and fetched again.

A local HTTP server (loopback only) plays the Allen download service: it honours Range requests
and can drop the connection part-way, as a flaky network does.
"""

import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import ALLENSDK_PYTHON

from brainlike.downloads import CorruptFileError, DownloadError, fetch, kind_of, verify_events, verify_nwb


class Server(http.server.ThreadingHTTPServer):
    def __init__(self, files: dict[str, bytes]):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files = files
        self.requests: list[tuple[str, str | None]] = []
        self.drop_after: int | None = None  # bytes sent before dropping the next response
        self.fail_with: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server: Server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        if server.fail_with:
            self.send_error(server.fail_with)
            return
        body = server.files[self.path]
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if server.drop_after is not None:
            payload, server.drop_after = payload[: server.drop_after], None
        self.wfile.write(payload)


@pytest.fixture
def server(workflow_run):
    cache = workflow_run / "results" / "embedded" / "cache"
    nwb = next((cache / "ophys_experiment_data").glob("*.nwb"))
    events = cache / "ophys_experiment_events" / nwb.name.replace(".nwb", "_events.npz")
    instance = Server({"/file.nwb": nwb.read_bytes(), "/events.npz": events.read_bytes()})
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    yield instance
    instance.shutdown()


def test_an_interrupted_download_resumes_and_is_verified(server, tmp_path):
    dropped_at = len(server.files["/file.nwb"]) // 3
    server.drop_after = dropped_at
    target = tmp_path / "data" / "1.nwb"
    outcome = fetch(server.url + "/file.nwb", target, verify_nwb, backoff_seconds=0)
    assert outcome == "downloaded"
    assert target.read_bytes() == server.files["/file.nwb"]
    # Resumed from what had reached the disk (whole chunks), not restarted from 0.
    resumed_from = int(server.requests[1][1].removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_from <= dropped_at
    assert [p.name for p in target.parent.iterdir()] == ["1.nwb"]


def test_a_valid_file_is_never_fetched_again(server, tmp_path):
    target = tmp_path / "1_events.npz"
    fetch(server.url + "/events.npz", target, verify_events)
    assert fetch(server.url + "/events.npz", target, verify_events) == "valid"
    assert len(server.requests) == 1


def test_a_truncated_file_is_named_and_fetched_again(server, tmp_path, caplog):
    target = tmp_path / "1.nwb"
    target.write_bytes(server.files["/file.nwb"][:5000])
    with pytest.raises(CorruptFileError, match=r"1\.nwb is truncated or corrupt"):
        verify_nwb(target)
    assert fetch(server.url + "/file.nwb", target, verify_nwb) == "downloaded"
    assert target.read_bytes() == server.files["/file.nwb"]
    assert "1.nwb is truncated or corrupt" in caplog.text and "fetching it again" in caplog.text


def test_a_server_that_keeps_failing_ends_in_a_named_error(server, tmp_path):
    server.fail_with = 503
    target = tmp_path / "1.nwb"
    with pytest.raises(DownloadError, match=r"/file\.nwb -> .*1\.nwb: failed after 3 attempts"):
        fetch(server.url + "/file.nwb", target, verify_nwb, attempts=3, backoff_seconds=0)
    assert len(server.requests) == 3 and not target.exists()


def test_corrupt_content_is_not_kept(server, tmp_path):
    server.files["/file.nwb"] = b"not an hdf5 file" * 100
    with pytest.raises(DownloadError, match="truncated or corrupt"):
        fetch(server.url + "/file.nwb", tmp_path / "1.nwb", verify_nwb, attempts=2, backoff_seconds=0)
    assert list(tmp_path.iterdir()) == []


def test_download_file_fetches_an_experiments_files(server, workflow_run, tmp_path):
    """The rule's function (one file per job), with the local server as the Allen API: a truncated
    file already in place is named and fetched again; a valid one is kept."""
    source = workflow_run / "results" / "embedded" / "cache"
    experiment = json.loads((source / "ophys_experiments.json").read_text())[0]["id"]
    names = {"nwb": f"ophys_experiment_data/{experiment}.nwb", "events": f"ophys_experiment_events/{experiment}_events.npz"}
    for name in names.values():
        server.files[f"/{Path(name).name}"] = (source / name).read_bytes()
    cache = tmp_path / "cache"
    (cache / "ophys_experiment_data").mkdir(parents=True)
    (cache / names["nwb"]).write_bytes(b"truncated")
    script = f"""
from brainlike.downloads import download_file
url_of = lambda kind, i: {server.url!r} + "/" + {{"nwb": "{{}}.nwb", "events": "{{}}_events.npz"}}[kind].format(i)
for name in {sorted(names.values())!r}:
    print(download_file({str(cache)!r} + "/" + name, url_of))
print(download_file({str(cache)!r} + "/" + {names["nwb"]!r}, url_of))
"""
    result = subprocess.run([str(ALLENSDK_PYTHON), "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["downloaded", "downloaded", "valid"]
    assert "truncated or corrupt" in result.stderr
    for name in names.values():
        assert (cache / name).read_bytes() == (source / name).read_bytes()
    with pytest.raises(ValueError, match="not an experiment's NWB"):
        kind_of(cache / "other.h5")


def test_reading_a_truncated_nwb_names_the_file(workflow_run, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(workflow_run / "results" / "embedded" / "cache", cache)
    experiments = json.loads((cache / "ophys_experiments.json").read_text())
    victim = next(e for e in experiments if e["targeted_structure"]["acronym"] == "VISp" and e["imaging_depth"] == 175)
    path = cache / "ophys_experiment_data" / f"{victim['id']}.nwb"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    options = json.dumps({"signal": "events", "window": "trial_start", "window_frames": 15, "statistic": "sum",
                          "blanks": "drop"})  # fmt: skip
    result = subprocess.run(
        [str(ALLENSDK_PYTHON), "-m", "brainlike.allen_data", "recordings", "--manifest", str(cache / "manifest.json"),
         "--cre-line", "Cux2-CreERT2", "--stimulus", "natural_scenes", "--area", "VISp", "--depth", "175",
         "--options", options, "--out", str(tmp_path / "out.npz")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert f"CorruptFileError: {path} is truncated or corrupt" in result.stderr
    assert "the download rule (real data) fetches it again" in result.stderr
    assert not (tmp_path / "out.npz").exists()


def test_events_verifier_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "1_events.npz"
    np.savez_compressed(path, ev=np.ones((3, 100)))
    verify_events(path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CorruptFileError, match="1_events.npz is truncated or corrupt"):
        verify_events(path)
