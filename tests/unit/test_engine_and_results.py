# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Target-side cores the benchmark flow stands on: the engine runner, run directories, dataset manifests,
checksum manifests."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _dataset, _engine, _results


# --- engine runner ------------------------------------------------------------------------------------------

def test_engine_output_is_streamed_to_files_and_status_written(tmp_path):
    out, err, status = tmp_path / "o.log", tmp_path / "e.log", tmp_path / "status.json"
    script = "import sys, time\nprint('first', flush=True)\nprint('oops', file=sys.stderr, flush=True)\nsys.exit(3)"
    result = _engine.run_engine([sys.executable, "-c", script], str(out), str(err), str(status))
    assert result["rc"] == 3 and result["ended_by"] == "exit"
    assert out.read_text() == "first\n" and err.read_text() == "oops\n"
    assert json.loads(status.read_text())["rc"] == 3
    assert _engine.read_status(str(status))["duration_seconds"] >= 0


def runner_process(argv, out, err, status):
    """run_engine in its own process, as the engine_run module runs it (it installs signal handlers)."""
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from ansible_collections.mlperf.storage.plugins.module_utils import _engine\n"
            "_engine.run_engine(%r, %r, %r, %r)\n"
            % (os.path.join(os.path.dirname(__file__), "..", "..", ".collections"), argv, out, err, status))
    return subprocess.Popen([sys.executable, "-c", code])


def test_engine_output_is_visible_while_it_runs(tmp_path):
    out, status = tmp_path / "o.log", tmp_path / "status.json"
    script = "import time\nprint('epoch 1', flush=True)\ntime.sleep(1.5)\nprint('epoch 2', flush=True)"
    runner = runner_process([sys.executable, "-c", script], str(out), str(tmp_path / "e.log"), str(status))
    deadline = time.time() + 10
    while time.time() < deadline and "epoch 1" not in (out.read_text() if out.exists() else ""):
        time.sleep(0.05)
    assert "epoch 1" in out.read_text() and _engine.read_status(str(status)) is None
    runner.wait(timeout=20)
    assert out.read_text() == "epoch 1\nepoch 2\n" and _engine.read_status(str(status))["rc"] == 0


def test_timeout_kills_the_whole_process_group(tmp_path):
    marker = tmp_path / "child.pid"
    # the engine starts a grandchild (as mpirun starts ranks); the timeout must take both down
    script = ("import subprocess, sys, time\n"
              "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              "open(%r, 'w').write(str(p.pid))\ntime.sleep(60)" % str(marker))
    result = _engine.run_engine([sys.executable, "-c", script], str(tmp_path / "o"), str(tmp_path / "e"),
                                str(tmp_path / "s.json"), timeout=1.5)
    assert result["ended_by"] == "timeout" and result["rc"] != 0
    grandchild = int(marker.read_text())
    time.sleep(0.3)
    with pytest.raises(ProcessLookupError):
        os.kill(grandchild, 0)


def test_sigterm_to_the_runner_stops_the_engine_and_still_writes_status(tmp_path):
    status = tmp_path / "s.json"
    runner = runner_process([sys.executable, "-c", "import time; time.sleep(60)"], str(tmp_path / "o"),
                            str(tmp_path / "e"), str(status))
    time.sleep(1.0)
    runner.send_signal(signal.SIGTERM)
    runner.wait(timeout=20)
    data = json.loads(status.read_text())
    assert data["ended_by"] == "signal" and data["signal"] == signal.SIGTERM


def test_a_command_that_cannot_start_is_reported_not_raised(tmp_path):
    result = _engine.run_engine([str(tmp_path / "no-such-engine")], str(tmp_path / "o"), str(tmp_path / "e"),
                                str(tmp_path / "s.json"))
    assert result["rc"] == 127 and result["ended_by"] == "not-started" and "cannot start" in result["error"]


# --- run directories ----------------------------------------------------------------------------------------

def test_run_dirs_are_new_and_never_reused(tmp_path):
    now = time.mktime((2026, 11, 23, 10, 15, 0, 0, 0, -1))
    path, stamp = _results.reserve_run_dir(str(tmp_path / "run"), now=now)
    assert stamp == "20261123_101500" and os.path.isdir(path)
    (tmp_path / "run" / stamp / "summary.json").write_text("{}")
    with pytest.raises(_results.ResultsError, match="already exists"):
        _results.reserve_run_dir(str(tmp_path / "run"), now=now)
    assert (tmp_path / "run" / stamp / "summary.json").read_text() == "{}"
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o755)


# --- dataset manifest ---------------------------------------------------------------------------------------

def make_dataset(folder, files, size):
    (folder / "train").mkdir(parents=True)
    for n in range(files):
        (folder / "train" / ("img_%d.npz" % n)).write_bytes(b"x" * size)


def test_dataset_manifest_proves_a_match_and_catches_every_difference(tmp_path):
    folder = tmp_path / "unet3d"
    spec = {"num_files_train": 4, "dataset": {"record_length_bytes": 10}}
    assert _dataset.check_dataset(str(folder), spec, 4)[0] is False  # nothing there yet
    make_dataset(folder, 4, 10)
    _dataset.write_manifest(str(folder), spec, "/results/datagen/x")
    ok, reason, observed = _dataset.check_dataset(str(folder), spec, 4)
    assert ok and observed == {"train_files": 4, "train_bytes": 40}
    other = {"num_files_train": 4, "dataset": {"record_length_bytes": 20}}
    ok, reason, _ = _dataset.check_dataset(str(folder), other, 4)
    assert not ok and "dataset differ" in reason
    (folder / "train" / "img_3.npz").unlink()
    ok, reason, _ = _dataset.check_dataset(str(folder), spec, 4)
    assert not ok and "holds 3 files, the plan needs 4" in reason
    (folder / "train" / "img_3.npz").write_bytes(b"x" * 9)  # same count, a truncated file
    ok, reason, _ = _dataset.check_dataset(str(folder), spec, 4)
    assert not ok and "39 bytes" in reason


# --- checksums ----------------------------------------------------------------------------------------------

def test_checksum_manifest_matches_sha256sum(tmp_path):
    (tmp_path / "dlio_config").mkdir()
    (tmp_path / "summary.json").write_text('{"a": 1}')
    (tmp_path / "dlio_config" / "config.yaml").write_text("x: 1\n")
    (tmp_path / ".engine-status.json").write_text("{}")
    assert _results.write_checksums(str(tmp_path)) == 3
    check = subprocess.run(["sha256sum", "-c", "--quiet", "CHECKSUMS.sha256"], cwd=str(tmp_path),
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    (tmp_path / "summary.json").write_text('{"a": 2}')
    assert subprocess.run(["sha256sum", "-c", "--quiet", "CHECKSUMS.sha256"], cwd=str(tmp_path),
                          capture_output=True).returncode != 0
