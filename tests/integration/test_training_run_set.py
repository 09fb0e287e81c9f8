# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runs of a training invocation as one engine job (training_run_set, the default), with the real DLIO on
localhost: every run in its own new run directory with its own metadata, engine status, telemetry slice and phase
label, and seal; a run killed mid-set leaves the runs before it complete and sealed, itself sealed and marked
incomplete, and no later run. Structure only: the time between runs is measured by bench/run_gap.py."""
import glob
import json
import os
import signal
import time

import pytest

from _faultkit import (TINY, check_manifest, finish, identity_processes, metadata, recap, run_dirs, run_training,
                       start_playbook, wait_for)
from _testpaths import REPO

pytestmark = [pytest.mark.integration]

LOCAL = os.path.join(REPO, "inventories", "local", "hosts.yml")


def local_vars(base, data, runs, epochs=1):
    dirs = {name: str(base / name) for name in ("results", "work", "async")}
    for path in list(dirs.values()) + [str(data)]:
        os.makedirs(path, exist_ok=True)
    return dict(TINY, mlperf_data_dir=str(data), mlperf_results_dir=dirs["results"],
                mlperf_controller_results_dir=dirs["results"], mlperf_work_dir=dirs["work"], mlperf_runs=runs,
                mlperf_params=dict(TINY["mlperf_params"], **{"train.epochs": epochs}))


def run_leaves(results):
    """The run directories (the verifier writes its files beside them)."""
    return [path for path in run_dirs(results) if os.path.isdir(path)]


def series(leaf):
    meta = metadata(leaf)
    index = json.load(open(os.path.join(leaf, meta["timeseries_data"]["file"])))
    with open(os.path.join(leaf, index["hosts"]["localhost"]["file"])) as handle:
        return meta, index, [json.loads(line) for line in handle if line.strip()]


def test_a_run_set_gives_every_run_its_own_sealed_directory_and_telemetry(tmp_path, embedded_env):
    extra = local_vars(tmp_path / "set", tmp_path / "data", runs=3)
    out = run_training(tmp_path, LOCAL, extra, "set", timeout=900)
    assert "failed=0" in recap(out)["localhost"], out[-5000:]
    assert "Traceback" not in out
    assert "Start the runs of the set back to back on the launcher (3)" in out  # one engine job, not a phase per run
    runs = run_leaves(extra["mlperf_results_dir"])
    assert len(runs) == 3
    windows = []
    for number, leaf in enumerate(runs, 1):
        stamp = os.path.basename(leaf)
        listed = check_manifest(leaf)
        assert {"training_run.stdout.log", "training_run.stderr.log", ".engine-status.json", "fs_separation.json",
                "training_%s_metadata.json" % stamp, "training_%s_timeseries.json" % stamp,
                "telemetry/localhost.jsonl", "telemetry/localhost_snapshot_start.json",
                "telemetry/localhost_snapshot_end.json", "telemetry/summary.json"} <= set(listed)
        meta, index, samples = series(leaf)
        assert meta["run_number"] == number and meta["complete"] is True and meta["exit_status"] == 0
        assert meta["run_id"].startswith(stamp + "-") and meta["incomplete_reasons"] == []
        status = json.load(open(os.path.join(leaf, ".engine-status.json")))
        assert status["run_id"] == meta["run_id"] and status["rc"] == 0 and stamp in " ".join(status["argv"])
        # its own slice of the one telemetry window, under its own phase label
        assert samples and {s["phase"] for s in samples} == {"run_" + stamp}
        assert [p["name"] for p in index["phases"]] == ["run_" + stamp]
        assert len(samples) == meta["timeseries_data"]["num_samples"]
        windows.append((samples[0]["ts"], samples[-1]["ts"]))
        start = json.load(open(os.path.join(leaf, "telemetry", "localhost_snapshot_start.json")))
        end = json.load(open(os.path.join(leaf, "telemetry", "localhost_snapshot_end.json")))
        assert ("run_set" in start) == (number > 1) and ("run_set" in end) == (number < 3)
        assert meta["system_info"]["num_hosts"] == 1
    assert len({metadata(leaf)["run_id"] for leaf in runs}) == 3
    # the slices follow each other and do not overlap
    assert all(a[1] < b[0] for a, b in zip(windows, windows[1:])), windows
    # each run's engine started after the previous one ended
    times = [(metadata(leaf)["invocation_start_time"], metadata(leaf)["invocation_end_time"]) for leaf in runs]
    assert all(a[1] <= b[0] for a, b in zip(times, times[1:])), times


def test_a_run_killed_mid_set_keeps_the_runs_before_it_and_starts_none_after(tmp_path, embedded_env):
    extra = local_vars(tmp_path / "killed", tmp_path / "data", runs=3, epochs=3)
    proc = start_playbook(tmp_path, LOCAL, extra, "killed")
    killed = None
    try:
        def second_run_engine():
            sets = glob.glob(os.path.join(extra["mlperf_work_dir"], "runset_*.json"))
            try:
                state = json.load(open(sets[0])) if sets else {}
            except ValueError:
                return None
            runs = state.get("runs") or []
            if len(runs) >= 2 and identity_processes(runs[1]["run_id"]):
                return runs[1]["run_id"]
            return None

        assert wait_for(lambda: second_run_engine() or proc.poll() is not None, 600), \
            open(proc.log_path).read()[-4000:]
        killed = second_run_engine()
        assert killed, open(proc.log_path).read()[-4000:]
        time.sleep(1)
        for pid in identity_processes(killed):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        out = finish(proc, 600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "failed=1" in recap(out)["localhost"], out[-5000:]
    assert "Traceback" not in out
    assert "run 2/3 failed: engine ended by" in out, out[-5000:]
    assert "run 3 of 3 not started" in out, out[-5000:]
    assert "is kept, marked incomplete in its metadata" in out
    runs = run_leaves(extra["mlperf_results_dir"])
    assert len(runs) == 2  # no directory for the run that never started
    first, second = runs
    check_manifest(first)
    check_manifest(second)
    meta1, _, samples1 = series(first)
    assert meta1["complete"] is True and meta1["run_number"] == 1 and meta1["incomplete_reasons"] == []
    meta2, _, samples2 = series(second)
    assert meta2["complete"] is False and meta2["run_number"] == 2 and meta2["run_id"] == killed
    assert meta2["exit_status"] not in (0, None)
    assert any("engine ended by" in reason for reason in meta2["incomplete_reasons"])
    assert samples1 and samples2 and {s["phase"] for s in samples2} == {"run_" + os.path.basename(second)}
    assert os.path.exists(os.path.join(second, "training_run.stderr.log"))
    assert wait_for(lambda: not identity_processes(killed), 20)
