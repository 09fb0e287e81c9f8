# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run set as one engine job (plugins/module_utils/_engine_set.py, plugins/modules/engine_run_set.py and
engine_set_wait.py) and its controller side (plugins/plugin_utils/_run_set.py)."""
import json
import os
import sys
import threading
import time

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _engine, _engine_set, _results
from ansible_collections.mlperf.storage.plugins.modules import engine_run_set, engine_set_wait
from ansible_collections.mlperf.storage.plugins.plugin_utils import _run_set


class FakeEngine:
    """Stands in for _engine.run_engine: records each call, writes the status file, returns the rc given per run."""

    def __init__(self, rcs):
        self.rcs = list(rcs)
        self.calls = []

    def __call__(self, argv, stdout, stderr, status_path, **kwargs):
        self.calls.append(dict(argv=argv, stdout=stdout, stderr=stderr, status_path=status_path, **kwargs))
        rc = self.rcs.pop(0)
        status = {"rc": rc, "ended_by": "exit", "start": _engine.iso_now(), "end": _engine.iso_now(),
                  "duration_seconds": 0.01, "run_id": kwargs.get("run_id")}
        _engine.write_json_atomic(status_path, status)
        return status


def stamps():
    """A reserve() that hands out distinct timestamps without waiting for the clock."""
    counter = [0]

    def reserve(base):
        counter[0] += 1
        return _results.reserve_run_dir(base, now=1_800_000_000 + counter[0])

    return reserve


def run(tmp_path, rcs, runs=3, **kwargs):
    engine = FakeEngine(rcs)
    status = _engine_set.run_set(str(tmp_path / "run"), runs, ["dlio", "hydra.run.dir=@RUN_DIR@", "x"],
                                 "training_run.stdout.log", "training_run.stderr.log", str(tmp_path / "set.json"),
                                 reserve=stamps(), engine=engine, **kwargs)
    return status, engine


def test_every_run_gets_its_own_new_directory_identity_and_status(tmp_path):
    phase = tmp_path / "label.phase"
    status, engine = run(tmp_path, [0, 0, 0], pid_template=str(tmp_path / "engine-%s.pid"),
                         phase_files=[str(phase)])
    assert status["state"] == "finished" and status["stopped_by"] is None and status["not_started"] == []
    assert [r["number"] for r in status["runs"]] == [1, 2, 3]
    paths = [r["path"] for r in status["runs"]]
    assert len(set(paths)) == 3 and all(os.path.isdir(p) for p in paths)
    assert [os.path.basename(p) for p in paths] == [r["timestamp"] for r in status["runs"]]
    for entry, call in zip(status["runs"], engine.calls):
        assert call["argv"] == ["dlio", "hydra.run.dir=%s" % entry["path"], "x"]
        assert call["stdout"] == os.path.join(entry["path"], "training_run.stdout.log")
        assert call["status_path"] == os.path.join(entry["path"], ".engine-status.json")
        assert call["pid_path"] == str(tmp_path / ("engine-%s.pid" % entry["timestamp"]))
        assert call["run_id"] == entry["run_id"] and entry["run_id"].startswith(entry["timestamp"] + "-")
        assert entry["status"]["rc"] == 0 and entry["reserved_epoch"] <= entry["end_epoch"]
    assert len(set(r["run_id"] for r in status["runs"])) == 3
    # the launcher's sampler label names the run that ran last
    assert phase.read_text() == "run_%s\n" % status["runs"][-1]["timestamp"]
    assert json.loads((tmp_path / "set.json").read_text()) == status


def test_a_failed_run_ends_the_set_and_later_runs_never_start(tmp_path):
    status, engine = run(tmp_path, [0, 2, 0])
    assert len(engine.calls) == 2
    assert status["stopped_by"] == "run-failed" and status["failed_run"] == 2
    assert [r["number"] for r in status["runs"]] == [1, 2] and status["not_started"] == [3]
    assert "run 2" in status["error"] and "exit code 2" in status["error"]
    assert len(os.listdir(tmp_path / "run")) == 2  # no directory for the run that never started


def test_the_stop_file_keeps_later_runs_from_starting(tmp_path):
    stop = tmp_path / "set.stop"

    class StopAfterFirst(FakeEngine):
        def __call__(self, *args, **kwargs):
            stop.write_text("")
            return FakeEngine.__call__(self, *args, **kwargs)

    engine = StopAfterFirst([0, 0, 0])
    status = _engine_set.run_set(str(tmp_path / "run"), 3, ["true"], "o", "e", str(tmp_path / "set.json"),
                                 stop_path=str(stop), reserve=stamps(), engine=engine)
    assert len(engine.calls) == 1 and engine.calls[0]["stop_path"] == str(stop)
    assert status["stopped_by"] == "stop-file" and status["not_started"] == [2, 3]


def test_a_controller_that_stopped_polling_gets_no_further_run(tmp_path):
    heartbeat = tmp_path / "hb"
    heartbeat.write_text("")
    old = time.time() - 1000
    os.utime(heartbeat, (old, old))
    status, engine = run(tmp_path, [0, 0, 0], heartbeat_path=str(heartbeat), heartbeat_timeout=60)
    assert len(engine.calls) == 1  # the first run's engine watches the heartbeat itself
    assert status["stopped_by"] == "controller-lost" and status["not_started"] == [2, 3]


def test_a_directory_that_cannot_be_reserved_stops_the_set(tmp_path):
    def refuse(base):
        raise _results.ResultsError("run directory exists")

    status = _engine_set.run_set(str(tmp_path / "run"), 2, ["true"], "o", "e", str(tmp_path / "set.json"),
                                 reserve=refuse, engine=FakeEngine([]))
    assert status["stopped_by"] == "reserve-failed" and status["runs"] == [] and status["not_started"] == [1, 2]


def test_real_engines_run_back_to_back_and_a_stop_file_ends_the_running_one(tmp_path):
    stop = tmp_path / "set.stop"
    script = "echo run in $1; [ -e %s.go ] && exec sleep 30; touch %s.go" % (stop, stop)
    argv = ["sh", "-c", script, "sh", "@RUN_DIR@"]
    set_file = str(tmp_path / "set.json")

    def stop_during_run_2():  # run 1 ends at once; run 2 sleeps until the stop file appears
        deadline = time.time() + 20
        while time.time() < deadline:
            state = _engine.read_status(set_file) or {}
            if len(state.get("runs", [])) == 2 and os.path.exists(state["runs"][1]["pid_file"]):
                break
            time.sleep(0.1)
        stop.write_text("")

    thread = threading.Thread(target=stop_during_run_2)
    thread.start()
    started = time.time()
    result = _engine_set.run_set(str(tmp_path / "run"), 3, argv, "out.log", "err.log", set_file,
                                 stop_path=str(stop), pid_template=str(tmp_path / "engine-%s.pid"))
    thread.join(30)
    assert time.time() - started < 25  # stopped, not slept out
    first, second = result["runs"]
    assert first["status"]["rc"] == 0
    with open(os.path.join(first["path"], "out.log")) as handle:
        assert handle.read() == "run in %s\n" % first["path"]
    assert second["status"]["ended_by"] == "stopped" and second["status"]["rc"] != 0
    assert result["stopped_by"] == "run-failed" and result["not_started"] == [3]
    assert not os.path.exists(second["pid_file"])


def test_progress_lines():
    assert _engine_set.progress_line(None, "run") == "run set: starting"
    running = {"runs_planned": 3, "state": "running",
               "runs": [{"number": 1, "status": {"rc": 0}}, {"number": 2, "reserved_epoch": 100.0, "status": None}]}
    assert _engine_set.progress_line(running, "run", {"epoch": 1}, now=112.0,
                                     describe=engine_set_wait.describe) == "run 2/3: epoch 1, 12 s elapsed"
    done = dict(running, state="finished", stopped_by="run-failed", error="run 2 ended by exit with exit code 1")
    assert _engine_set.progress_line(done, "run").startswith("run set: finished, 1/3 run(s) completed; stopped")


def test_the_module_refuses_bad_arguments_before_anything_runs(tmp_path, call_module):
    base = dict(base=str(tmp_path / "run"), runs=2, argv=["true"], stdout="o.log", stderr="e.log",
                set_status_file=str(tmp_path / "set.json"))
    for bad, words in ((dict(runs=0), "at least 1"), (dict(pid_file="/x/engine.pid"), "%s exactly once"),
                       (dict(stdout="../o.log"), "file name inside"),
                       (dict(heartbeat_timeout=30), "heartbeat_file is not set")):
        result = call_module(engine_run_set, dict(base, **bad))
        assert result["failed"] and words in result["msg"], (bad, result)
    assert not os.path.exists(tmp_path / "run")


def test_the_modules_run_a_set_and_report_it(tmp_path, call_module):
    args = dict(base=str(tmp_path / "run"), runs=2, argv=[sys.executable, "-c", "print('@RUN_DIR@')"],
                stdout="o.log", stderr="e.log", set_status_file=str(tmp_path / "set.json"),
                heartbeat_file=str(tmp_path / "hb"), heartbeat_timeout=60)
    result = call_module(engine_run_set, args)
    assert not result.get("failed") and len(result["runs"]) == 2
    waited = call_module(engine_set_wait, dict(set_status_file=str(tmp_path / "set.json"), wait=1,
                                               heartbeat_file=str(tmp_path / "hb")))
    assert waited["finished"] and waited["current"]["number"] == 2
    assert waited["progress_line"] == "run set: finished, 2/2 run(s) completed"
    again = call_module(engine_run_set, args)
    assert again["failed"] and "already exists" in again["msg"]


def test_waiting_with_stop_creates_the_stop_file(tmp_path, call_module):
    _engine.write_json_atomic(str(tmp_path / "set.json"), {"state": "running", "runs_planned": 2, "runs": []})
    result = call_module(engine_set_wait, dict(set_status_file=str(tmp_path / "set.json"), wait=0.1, stop=True,
                                               stop_file=str(tmp_path / "set.stop")))
    assert os.path.exists(tmp_path / "set.stop") and result["finished"] is False
    refused = call_module(engine_set_wait, dict(set_status_file=str(tmp_path / "set.json"), stop=True))
    assert refused["failed"] and "stop_file" in refused["msg"]


# --------------------------------------------------------------------------- controller side

def set_status(rcs, planned=3):
    runs = []
    for number, rc in enumerate(rcs, 1):
        stamp = "20261205_0700%02d" % number
        runs.append({"number": number, "path": "/res/run/%s" % stamp, "timestamp": stamp, "run_id": stamp + "-ab",
                     "pid_file": "/w/engine-%s.pid" % stamp, "reserved_epoch": 100.0 * number,
                     "status": None if rc is None else {"rc": rc, "ended_by": "exit" if rc == 0 else "killed"}})
    started = [r["number"] for r in runs]
    return {"runs_planned": planned, "runs": runs, "state": "finished",
            "not_started": [n for n in range(1, planned + 1) if n not in started]}


def test_the_failure_is_the_running_runs_only():
    runs = _run_set.run_set_runs(set_status([0, -15]), "training", "run", "run", "/res", "/ctl",
                                 failure="task 'Wait' failed: lost client c2", lost_hosts=["c2"])
    assert [r["label"] for r in runs] == ["run 1/3", "run 2/3"]
    assert runs[0]["problems"] == [] and runs[0]["lost_hosts"] == []
    assert runs[1]["problems"][0] == "task 'Wait' failed: lost client c2"
    assert "exit code -15" in runs[1]["problems"][1] and runs[1]["lost_hosts"] == ["c2"]
    assert runs[1]["controller_path"] == runs[1]["collect_dir"] == "/ctl/run/20261205_070002"
    assert runs[1]["phase"] == "run_20261205_070002" and runs[1]["start_epoch"] == 200.0


def test_a_run_without_engine_status_is_incomplete_and_telemetry_errors_concern_every_run():
    runs = _run_set.run_set_runs(set_status([0, None]), "training", "run", "run", "/res", "/res", same_tree=True,
                                 telemetry_error="archive unreadable")
    assert runs[0]["controller_path"] == "/res/run/20261205_070001"
    assert runs[0]["problems"] == ["collecting telemetry failed: archive unreadable"]
    assert any("engine status missing" in p for p in runs[1]["problems"])


def test_a_failed_telemetry_copy_is_a_problem_of_its_run_only():
    status = set_status([0, 0], planned=2)
    copy = {"failed": True, "results": [
        {"item": [{"timestamp": "20261205_070001"}, "telemetry"], "failed": False},
        {"item": [{"timestamp": "20261205_070002"}, "telemetry"], "failed": True, "msg": "disk full"}]}
    runs = _run_set.run_set_runs(status, "training", "run", "run", "/res", "/ctl", telemetry_copy=copy)
    assert runs[0]["problems"] == []
    assert runs[1]["problems"] == ["copying telemetry into the run directory failed: disk full"]


def test_not_started_note():
    assert _run_set.not_started_note(set_status([0, 0, 0]), "run") == ""
    note = _run_set.not_started_note(set_status([0, 1], planned=4), "run")
    assert note.startswith("run 3, 4 of 4 not started")
    assert _run_set.not_started_note({"runs_planned": 2, "runs": []}, "run").startswith("run 1, 2 of 2")


def test_every_engine_of_a_set_carries_the_set_identity_and_engine_stop_finds_it(tmp_path):
    import subprocess

    engine = FakeEngine([0, 0])
    _engine_set.run_set(str(tmp_path / "run"), 2, ["true"], "o", "e", str(tmp_path / "set.json"),
                        env={"A": "1"}, set_id="runset_20261205_070000_abcdefgh", reserve=stamps(), engine=engine)
    assert all(call["env"] == {"A": "1", _engine.RUN_SET_VAR: "runset_20261205_070000_abcdefgh"}
               for call in engine.calls)
    # a rank whose run identity the controller never learned is found by the set's identity, and only by it
    child = subprocess.Popen(["sleep", "30"], env=dict(os.environ, **{_engine.RUN_ID_VAR: "20261205_070001-ffff",
                                                                      _engine.RUN_SET_VAR: "runset_xyz_12345678"}))
    try:
        assert _engine.processes_carrying(["runset_xyz_12345678"]) == [child.pid]
        assert _engine.processes_carrying(["runset_other_1234"]) == []
        found = _engine.stop_engine(run_ids=["runset_xyz_12345678"], grace=5)
        assert found["processes"] == [child.pid]
        assert child.wait(10) != 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
