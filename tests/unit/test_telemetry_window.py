# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""telemetry_window (one round trip to open, close and clear a window) and run_seal (record, metadata, seal)."""
import json
import os
import subprocess
import sys
import tarfile
import time

from ansible_collections.mlperf.storage.plugins.module_utils._results import CHECKSUM_FILE
from ansible_collections.mlperf.storage.plugins.modules import run_seal, telemetry_window

from _testpaths import REPO


def _args(tmp_path, state, **extra):
    return dict({"state": state, "host_dir": str(tmp_path), "label": "run_20261204_120000",
                 "paths": {"data_dir": str(tmp_path)}}, **extra)


def test_open_removes_what_an_earlier_window_left_writes_the_phase_and_snapshots(tmp_path, call_module):
    files = telemetry_window.window_files(str(tmp_path), "run_20261204_120000")
    for name in ("stop", "pid", "summary", "archive"):
        with open(files[name], "w") as handle:
            handle.write("stale\n")
    out = call_module(telemetry_window, _args(tmp_path, "opened", phase="run 1/6"))
    assert not any(os.path.exists(files[name]) for name in ("stop", "pid", "summary", "archive"))
    with open(files["phase"]) as handle:
        assert handle.read() == "run 1/6\n"
    with open(files["snapshot_start"]) as handle:
        assert json.load(handle)["label"] == "start"
    assert out["ansible_facts"]["mlperf_proc"]["label"] == "start"


def test_close_stops_a_real_sampler_and_packs_its_series_and_snapshots(tmp_path, call_module):
    files = telemetry_window.window_files(str(tmp_path), "run_20261204_120000")
    call_module(telemetry_window, _args(tmp_path, "opened"))
    code = ("import sys; sys.argv = ['x']; from ansible_collections.mlperf.storage.plugins.module_utils._sampler "
            "import Sampler; Sampler(%r, interval=0.2, stop_file=%r, phase_file=%r, pid_file=%r, summary_file=%r, "
            "max_duration=60).run()" % (files["series"], files["stop"], files["phase"], files["pid"],
                                        files["summary"]))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    sampler = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env)
    try:
        time.sleep(1.0)
        out = call_module(telemetry_window, _args(tmp_path, "closed", start_wait=10, stop_timeout=10))
        assert sampler.wait(timeout=10) == 0
    finally:
        if sampler.poll() is None:
            sampler.kill()
    assert out["sampler_failed"] is False and out["error"] is None
    assert out["sampler"]["stop_reason"] == "stop_file" and out["sampler"]["samples"] >= 1
    assert out["packed"] == ["series.jsonl", "snapshot_start.json", "snapshot_end.json"]
    with tarfile.open(out["archive"]) as archive:
        assert sorted(archive.getnames()) == ["series.jsonl", "snapshot_end.json", "snapshot_start.json"]
        assert archive.extractfile("series.jsonl").read().count(b"\n") == out["sampler"]["samples"]
    removed = call_module(telemetry_window, _args(tmp_path, "absent"))
    assert removed["changed"] and not any(os.path.exists(path) for path in files.values())


def test_close_without_a_sampler_says_it_never_started(tmp_path, call_module):
    call_module(telemetry_window, _args(tmp_path, "opened"))
    out = call_module(telemetry_window, _args(tmp_path, "closed", start_wait=0.3, stop_timeout=0.3))
    assert out["sampler_failed"] is True and out["error"] == "the sampler did not start within 0 s (no pid file)"
    assert out["packed"] == ["snapshot_start.json", "snapshot_end.json"]


def test_close_reports_the_reason_a_sampler_could_not_start(tmp_path, call_module):
    files = telemetry_window.window_files(str(tmp_path), "run_20261204_120000")
    call_module(telemetry_window, _args(tmp_path, "opened"))
    with open(files["summary"], "w") as handle:
        json.dump({"error": "proc_sampler: cannot write /x"}, handle)
    out = call_module(telemetry_window, _args(tmp_path, "closed", start_wait=5, stop_timeout=5))
    assert out["sampler_failed"] is True and out["error"] == "proc_sampler: cannot write /x"


def test_seal_writes_the_record_and_the_metadata_then_seals_everything(tmp_path, call_module):
    run_dir = tmp_path / "20261204_120000"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text("{}\n")
    out = call_module(run_seal, {"run_dir": str(run_dir), "metadata": {"benchmark_type": "training", "x": [1]},
                                 "metadata_file": "training_20261204_120000_metadata.json",
                                 "data_path": "/proc", "results_path": str(tmp_path)})
    assert not (out["fs_separation"]["failed"] or out["metadata"]["failed"] or out["checksums"]["failed"])
    assert json.loads((run_dir / "training_20261204_120000_metadata.json").read_text())["x"] == [1]
    sealed = (run_dir / CHECKSUM_FILE).read_text()
    for name in ("summary.json", "fs_separation.json", "training_20261204_120000_metadata.json"):
        assert "  %s\n" % name in sealed
    assert out["checksums"]["files"] == 3


def test_seal_goes_on_after_a_step_that_cannot_be_written(tmp_path, call_module):
    run_dir = tmp_path / "20261204_120000"
    run_dir.mkdir()
    # a directory where the metadata file should go: that write fails, the seal is still made
    (run_dir / "training_20261204_120000_metadata.json").mkdir()
    out = call_module(run_seal, {"run_dir": str(run_dir), "metadata": {"a": 1},
                                 "metadata_file": "training_20261204_120000_metadata.json",
                                 "data_path": "/proc", "results_path": str(tmp_path)})
    assert out["metadata"]["failed"] and out["metadata"]["msg"]
    assert not out["checksums"]["failed"] and (run_dir / CHECKSUM_FILE).exists()


def test_the_controller_unpacks_only_the_known_members_of_a_host_archive(tmp_path):
    from ansible_collections.mlperf.storage.plugins.plugin_utils._telemetry import unpack_host_archive
    source = tmp_path / "series.jsonl"
    source.write_text('{"seq": 1}\n')
    archive = tmp_path / "node1.tgz"
    with tarfile.open(archive, "w:gz") as packed:
        packed.add(source, arcname="series.jsonl")
        packed.add(source, arcname="../escaped.jsonl")
        link = tarfile.TarInfo("snapshot_end.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        packed.addfile(link)
    warnings = []
    unpack_host_archive(str(archive), str(tmp_path / "node1"), warnings, "node1")
    assert sorted(os.listdir(tmp_path / "node1")) == ["series.jsonl"]
    assert not (tmp_path / "escaped.jsonl").exists() and not archive.exists()
    assert warnings == ["node1: archive member '../escaped.jsonl' ignored",
                        "node1: archive member 'snapshot_end.json' ignored"]


def _module_process(args, env):
    """Runs telemetry_window as Ansible runs a module: a process of its own, its arguments in a file, its result on
    a pipe that is read to the end (returns the parsed result)."""
    argfile = os.path.join(args["host_dir"], "args.json")
    with open(argfile, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    module = os.path.join(REPO, "plugins", "modules", "telemetry_window.py")
    proc = subprocess.run([sys.executable, module, argfile], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(env, PYTHONPATH=os.pathsep.join(sys.path)), timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_open_starts_a_sampler_that_outlives_the_task_and_close_stops_it(tmp_path):
    files = telemetry_window.window_files(str(tmp_path), "run_20261204_120000")
    env = dict(os.environ, MLPERF_SAMPLER_TOKEN="tok-window")
    started = time.monotonic()
    out = _module_process(_args(tmp_path, "opened", token="tok-window",
                                sampler={"interval": 0.2, "max_duration": 60}), env)
    # the task's result pipe reached its end at once: the sampler kept none of the module's descriptors
    assert time.monotonic() - started < 20
    pid = out["sampler_pid"]
    try:
        assert isinstance(pid, int) and pid != os.getpid()
        assert _wait(lambda: os.path.exists(files["pid"]) and os.path.getsize(files["series"]) > 0)
        with open("/proc/%d/environ" % pid, "rb") as handle:
            assert b"MLPERF_SAMPLER_TOKEN=tok-window" in handle.read().split(b"\0")
        # the window's close recognises it by its token and open series and ends it by the stop file
        closed = _module_process(_args(tmp_path, "closed", token="tok-window", start_wait=10, stop_timeout=10),
                                 env)
        assert closed["sampler_failed"] is False and closed["error"] is None, closed
        assert closed["sampler"]["stop_reason"] == "stop_file" and closed["sampler"]["samples"] >= 1
        assert closed["sampler"]["label"] == "run_20261204_120000"
        assert _wait(lambda: not os.path.exists("/proc/%d" % pid) or _zombie(pid))
    finally:
        if os.path.exists("/proc/%d" % pid) and not _zombie(pid):
            os.kill(pid, 9)


def test_open_refuses_a_sampler_whose_token_is_not_in_the_environment_and_starts_nothing(tmp_path, call_module):
    files = telemetry_window.window_files(str(tmp_path), "run_20261204_120000")
    env = {k: v for k, v in os.environ.items() if k != "MLPERF_SAMPLER_TOKEN"}
    argfile = tmp_path / "args.json"
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": _args(tmp_path, "opened", token="tok",
                                                                sampler={"interval": 0.2})}))
    proc = subprocess.run([sys.executable, os.path.join(REPO, "plugins", "modules", "telemetry_window.py"),
                           str(argfile)], stdout=subprocess.PIPE, env=dict(env, PYTHONPATH=os.pathsep.join(sys.path)),
                          timeout=30)
    out = json.loads(proc.stdout)
    assert out["failed"] and "MLPERF_SAMPLER_TOKEN" in out["msg"]
    assert not os.path.exists(files["pid"]) and not os.path.exists(files["phase"])
    # a bad sampler setting is an error before anything is written, too
    out = call_module(telemetry_window, _args(tmp_path, "opened", sampler={"interval": 0.01}))
    assert out["failed"] and "interval must be at least 0.1" in out["msg"]
    assert not os.path.exists(files["phase"]) and not os.path.exists(files["snapshot_start"])


def _wait(predicate, seconds=15):
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def test_open_creates_the_host_dir_when_asked_and_refuses_one_others_can_change(tmp_path, call_module):
    host_dir = tmp_path / "work" / "telemetry" / "run"
    out = call_module(telemetry_window, dict(_args(tmp_path, "opened"), host_dir=str(host_dir), create_host_dir=True))
    assert not out.get("failed") and host_dir.is_dir() and (host_dir / "run_20261204_120000.phase").is_file()
    assert oct(host_dir.stat().st_mode & 0o777) == oct(0o755)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    unsafe = shared / "telemetry" / "run"
    out = call_module(telemetry_window, dict(_args(tmp_path, "opened"), host_dir=str(unsafe), create_host_dir=True))
    assert out["failed"] and out["msg"].startswith("refusing to use %s" % unsafe) and "fix:" in out["msg"]
    assert not (shared / "telemetry").exists()
