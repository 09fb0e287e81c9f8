# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The telemetry role end to end: ansible-playbook on localhost (connection local) runs
start / mark / stop around a short phase, and the collected tree, index and summary are checked.
Also: a sampler killed mid-phase, an interrupted play, and the cache-drop entry point."""
import json
import os
import subprocess
import sys

import pytest

from harness.waiting import wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def playbook_bin():
    for candidate in (os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                      "/tmp/ctlvenv/bin/ansible-playbook"):
        if os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("ansible-playbook not found next to %s nor in /tmp/ctlvenv/bin" % sys.executable)


# The playbooks below are the task lists of one play on localhost, without facts.
PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
"""


def run_playbook(tmp_path, tasks, extra_vars=None, timeout=240, check=True, options=()):
    book = tmp_path / "play.yml"
    book.write_text(PLAY + tasks)
    argv = [playbook_bin(), *options, "-i", "localhost,", "-c", "local",
            "-e", "ansible_python_interpreter=%s" % TARGET_PYTHON, str(book)]
    if extra_vars:
        argv[-1:-1] = ["-e", json.dumps(extra_vars)]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
               ANSIBLE_ASYNC_DIR=str(tmp_path / "async"))
    proc = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return proc


def _proc_entries():
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            yield int(pid)


def processes_writing(path):
    """Processes holding ``path`` open: a live sampler keeps its series file open."""
    found = []
    for pid in _proc_entries():
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == str(path):
                    found.append(pid)
                    break
            except OSError:
                continue
    return found


def sampler_jobs(marker, within=None):
    """Sampler processes started by the playbooks of one test: the role's (started by the telemetry window, they
    carry the sampler token) and async proc_sampler jobs (only those among the pids ``within``, when given: one
    test host's)."""
    found = []
    for pid in _proc_entries():
        if within is not None and pid not in within:
            continue
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open("/proc/%d/environ" % pid, "rb") as handle:
                environ = handle.read().decode("utf-8", "replace")
        except OSError:
            continue
        if marker in environ and ("proc_sampler" in cmdline or "\0MLPERF_SAMPLER_TOKEN=" in "\0" + environ):
            found.append(pid)
    return found


def describe_process(pid):
    """State, parent, pids in each namespace and command line of ``pid`` (for a failure message)."""
    try:
        with open("/proc/%d/status" % pid) as handle:
            fields = dict(line.rstrip("\n").split(":\t", 1) for line in handle if ":\t" in line)
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")[:200]
    except OSError as exc:
        return "%d: %s" % (pid, exc)
    return "%d state=%s ppid=%s nspid=%s cmd=%s" % (pid, fields.get("State"), fields.get("PPid"),
                                                   fields.get("NSpid"), cmdline)


def assert_no_sampler_left(series, marker, timeout=20, within=None):
    """No process writes ``series`` and no sampler job of the test is left (``within``: a callable giving the pids
    of the one host to look at; another host's sampler may rightly still run)."""
    assert wait_for(lambda: not processes_writing(series), timeout, 0.2), "a sampler still writes %s" % series
    # the async wrapper's watchdog polls its job every few seconds before it exits too
    scope = within or (lambda: None)
    assert wait_for(lambda: not sampler_jobs(marker, scope()), timeout, 0.2), "proc_sampler jobs left: %s" % [
        describe_process(pid) for pid in sampler_jobs(marker, scope())]


PHASE = """
    - name: Start telemetry
      ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: start}
      vars:
        telemetry_label: run_1
        telemetry_host_dir: "{{ host_dir }}"
        telemetry_paths: {data_dir: "{{ data_dir }}", results_dir: "{{ collect_dir }}"}
        telemetry_interval: 0.2
        telemetry_max_duration: 120
    - name: First part of the phase
      ansible.builtin.command: sleep 1.5
      changed_when: false
    - name: Mark the second part
      ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: mark}
      vars: {telemetry_label: run_1, telemetry_phase: epoch_2}
    - name: Second part of the phase
      ansible.builtin.command: sleep 1.5
      changed_when: false
    - name: Stop telemetry
      ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: stop}
      vars:
        telemetry_label: run_1
        telemetry_collect_dir: "{{ collect_dir }}"
        telemetry_benchmark: training
        telemetry_timestamp: "20261123_101500"
    - name: Keep what the play sees
      ansible.builtin.copy:
        content: "{{ {'summary': telemetry_summary, 'jobs': telemetry_jobs} | to_json }}"
        dest: "{{ collect_dir }}/../play_view.json"
        mode: "0644"
"""


def test_start_mark_stop_around_a_phase(tmp_path):
    collect = tmp_path / "results" / "run"
    host_dir = tmp_path / "host" / "run_1"
    (tmp_path / "data").mkdir()
    marker = str(tmp_path)
    run_playbook(tmp_path, PHASE, {"collect_dir": str(collect), "host_dir": str(host_dir),
                                   "data_dir": str(tmp_path / "data")})
    assert_no_sampler_left(host_dir / "run_1.jsonl", marker)

    telemetry = collect / "telemetry"
    assert sorted(os.listdir(telemetry)) == ["localhost.jsonl", "localhost_snapshot_end.json",
                                             "localhost_snapshot_start.json", "snapshot_diff.json", "summary.json"]
    assert os.listdir(host_dir) == []  # host-side files removed once fetched

    index = json.loads((collect / "training_20261123_101500_timeseries.json").read_text())
    assert index["collection_method"] == "ansible" and index["collection_interval_seconds"] == 0.2
    assert index["hosts_requested"] == ["localhost"] and index["hosts_collected"] == ["localhost"]
    host = index["hosts"]["localhost"]
    assert host["file"] == "telemetry/localhost.jsonl" and host["stop_reason"] == "stop_file"
    assert host["sampler_failed"] is False
    # two 1.5 s sleeps plus task overhead at 0.2 s: at least 15 samples
    assert host["samples"] >= 15
    assert [p["name"] for p in index["phases"]] == ["run_1", "epoch_2"]
    assert all(p["samples"] >= 5 for p in index["phases"])

    lines = [json.loads(line) for line in (telemetry / "localhost.jsonl").read_text().splitlines()]
    assert len(lines) == host["samples"] == index["num_samples"]
    assert {"cpu", "mem", "disk", "net", "load", "phase"} <= set(lines[0])
    phases = [line["phase"] for line in lines]
    assert phases == sorted(phases, key=lambda p: p != "run_1")  # run_1 first, then epoch_2, never mixed

    start = json.loads((telemetry / "localhost_snapshot_start.json").read_text())
    end = json.loads((telemetry / "localhost_snapshot_end.json").read_text())
    assert (start["label"], end["label"]) == ("start", "end")
    assert start["paths"]["data_dir"]["resolved"] == str(tmp_path / "data")
    assert start["paths"]["data_dir"]["fstype"]

    view = json.loads((tmp_path / "results" / "play_view.json").read_text())
    summary = view["summary"]
    assert view["jobs"] == {}  # the stopped label is forgotten
    assert summary["timeseries_data"] == {"file": "training_20261123_101500_timeseries.json",
                                          "num_samples": host["samples"], "interval_seconds": 0.2,
                                          "hosts_collected": ["localhost"]}
    assert summary["system_info"]["num_hosts"] == 1 and summary["system_info"]["collection_method"] == "ansible"
    assert summary["system_info"]["total_memory_bytes"] == start["meminfo"]["MemTotal"]
    assert summary["cluster_snapshots"]["end"]["hosts"][0]["hostname"] == end["hostname"]
    assert summary["sampler_failed"] == [] and summary == json.loads((telemetry / "summary.json").read_text())


KILLED = """
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: start}
      vars: {telemetry_label: ckpt, telemetry_host_dir: "{{ host_dir }}", telemetry_interval: 0.2,
             telemetry_max_duration: 120}
    - name: Wait for a few samples
      ansible.builtin.wait_for: {path: "{{ host_dir }}/ckpt.pid", timeout: 20}
    - name: The sampler dies mid-phase
      ansible.builtin.shell: "sleep 1; kill -9 $(cat {{ host_dir }}/ckpt.pid); sleep 0.5"
      changed_when: true
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: stop}
      vars: {telemetry_label: ckpt, telemetry_collect_dir: "{{ collect_dir }}", telemetry_benchmark: checkpointing,
             telemetry_timestamp: "20261123_111500", telemetry_stop_timeout: 5}
    - name: The play goes on
      ansible.builtin.copy:
        content: "{{ telemetry_summary | to_json }}"
        dest: "{{ collect_dir }}/../summary_seen.json"
        mode: "0644"
"""


def test_sampler_killed_mid_phase_is_recorded_not_fatal(tmp_path):
    collect = tmp_path / "results" / "run"
    host_dir = tmp_path / "host"
    run_playbook(tmp_path, KILLED, {"collect_dir": str(collect), "host_dir": str(host_dir)})
    summary = json.loads((tmp_path / "results" / "summary_seen.json").read_text())
    assert summary["sampler_failed"] == ["localhost"]
    assert any("localhost: sampler failed" in w for w in summary["warnings"])
    index = json.loads((collect / "checkpointing_20261123_111500_timeseries.json").read_text())
    host = index["hosts"]["localhost"]
    assert host["sampler_failed"] is True and host["samples"] >= 3  # the samples taken before the kill
    for line in (collect / "telemetry" / "localhost.jsonl").read_text().splitlines():
        json.loads(line)
    assert_no_sampler_left(host_dir / "ckpt.jsonl", str(tmp_path))


INTERRUPTED = """
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: start}
      vars: {telemetry_label: lost, telemetry_host_dir: "{{ host_dir }}", telemetry_interval: 0.2,
             telemetry_max_duration: 4}
    - name: The phase fails before telemetry stop
      ansible.builtin.command: "false"
      changed_when: false
"""


def test_interrupted_play_leaves_no_sampler_behind(tmp_path):
    host_dir = tmp_path / "host"
    series = host_dir / "lost.jsonl"
    proc = run_playbook(tmp_path, INTERRUPTED, {"host_dir": str(host_dir)}, check=False)
    assert proc.returncode != 0 and "The phase fails" in proc.stdout
    # nobody will run stop: max_duration (4 s) must end the sampler by itself
    assert_no_sampler_left(series, str(tmp_path), timeout=30)
    lines = [json.loads(line) for line in series.read_text().splitlines()]
    assert lines and all(line["phase"] == "lost" for line in lines)
    assert lines[-1]["ts"] - lines[0]["ts"] <= 4.0


DROP = """
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: drop_caches}
      vars: {telemetry_drop_caches: "{{ drop }}"}
    - ansible.builtin.copy:
        content: "{{ telemetry_cache_drops | default('unset') | to_json }}"
        dest: "{{ out }}"
        mode: "0644"
"""


def test_drop_caches_only_when_asked(tmp_path):
    out = tmp_path / "drops.json"
    run_playbook(tmp_path, DROP, {"drop": False, "out": str(out)})
    assert json.loads(out.read_text()) == "unset"
    if os.geteuid() != 0:
        pytest.skip("dropping caches needs root")
    run_playbook(tmp_path, DROP, {"drop": True, "out": str(out), "ansible_become_method": "su"})
    drops = json.loads(out.read_text())
    assert len(drops) == 1 and drops[0]["host"] == "localhost"
    assert drops[0]["ok"] is True and drops[0]["error"] is None, drops
    assert drops[0]["time"].endswith("Z") and drops[0]["time"][:4].isdigit()


CHECK = """
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: start}
      vars: {telemetry_label: dry, telemetry_host_dir: "{{ host_dir }}"}
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: stop}
      vars: {telemetry_label: dry, telemetry_collect_dir: "{{ collect_dir }}", telemetry_benchmark: training,
             telemetry_timestamp: "20261123_131500"}
    - ansible.builtin.assert:
        that:
          - ansible_facts.mlperf_proc.label == 'end'
          - telemetry_host_result.sampler_failed
          - telemetry_summary is not defined
"""


def test_check_mode_snapshots_but_starts_and_writes_nothing(tmp_path):
    host_dir = tmp_path / "host"
    collect = tmp_path / "results" / "run"
    run_playbook(tmp_path, CHECK, {"host_dir": str(host_dir), "collect_dir": str(collect)}, options=("--check",))
    assert not host_dir.exists() and not collect.exists()
    assert not sampler_jobs(str(tmp_path))


CEILING = """
    - mlperf.storage.proc_sampler: {path: "{{ series }}", interval: 0.5, max_duration: 600}
      async: 6
      poll: 0
      register: job
    - ansible.builtin.async_status: {jid: "{{ job.ansible_job_id }}"}
      register: result
      until: result is finished
      retries: 60
      delay: 1
    - ansible.builtin.copy: {content: "{{ result | to_json }}", dest: "{{ out }}", mode: "0644"}
"""


def test_sampler_ends_before_a_too_short_async_ceiling(tmp_path):
    """Under the real async wrapper, max_duration 600 with async 6 ends cleanly with a summary
    (not 'Timeout exceeded') and a warning that says why."""
    out = tmp_path / "result.json"
    run_playbook(tmp_path, CEILING, {"series": str(tmp_path / "s.jsonl"), "out": str(out)})
    result = json.loads(out.read_text())
    assert result.get("failed") is not True and result["stop_reason"] == "max_duration", result
    assert result["duration"] < 6.0
    assert "not below the async ceiling of 6 s" in json.dumps(result.get("warnings"))


UNSAFE = """
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: start}
      vars: {telemetry_label: unsafe, telemetry_host_dir: "{{ host_dir }}", telemetry_become: "{{ become }}"}
"""


@pytest.mark.parametrize("become", [False, True])
def test_host_dir_under_a_directory_others_can_write_is_refused(tmp_path, become):
    if become and os.geteuid() != 0:
        pytest.skip("become to root on localhost without a password needs root")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    host_dir = shared / "telemetry" / "unsafe"
    proc = run_playbook(tmp_path, UNSAFE, {"host_dir": str(host_dir), "become": become,
                                           "ansible_become_method": "su"}, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "refusing to use %s" % host_dir in out and "%s is writable by others without the sticky bit" % shared in out
    assert "mode 0777" in out and "fix:" in out and "Traceback" not in out
    assert not (shared / "telemetry").exists()  # nothing made below it
    assert not sampler_jobs(str(tmp_path))


TAMPERED = """
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: start}
      vars: {telemetry_label: tamper, telemetry_host_dir: "{{ host_dir }}", telemetry_interval: 0.2,
             telemetry_max_duration: 120, telemetry_become: true}
    - ansible.builtin.wait_for: {path: "{{ host_dir }}/tamper.pid", timeout: 20}
    - name: Keep the sampler's real pid
      ansible.builtin.slurp: {src: "{{ host_dir }}/tamper.pid"}
      register: real_pid
    - name: Another user of the work dir replaces the pid file
      ansible.builtin.copy: {content: "{{ item }}\\n", dest: "{{ host_dir }}/tamper.pid", mode: "0644"}
      loop: ["{{ victim }}"]
    - name: Terminating through the pid file signals nothing
      mlperf.storage.proc_sampler:
        path: "{{ host_dir }}/tamper.jsonl"
        pid_file: "{{ host_dir }}/tamper.pid"
        state: stopped
        token: "{{ telemetry_jobs.tamper.token }}"
      become: true
      register: refused
    - name: Minus one signals nothing either
      ansible.builtin.copy: {content: "-1\\n", dest: "{{ host_dir }}/tamper.pid", mode: "0644"}
    - mlperf.storage.proc_sampler:
        path: "{{ host_dir }}/tamper.jsonl"
        pid_file: "{{ host_dir }}/tamper.pid"
        state: stopped
        token: "{{ telemetry_jobs.tamper.token }}"
      become: true
      register: minus_one
    - name: The real pid is accepted
      ansible.builtin.copy: {content: "{{ real_pid.content | b64decode }}", dest: "{{ host_dir }}/tamper.pid",
                             mode: "0644"}
    - mlperf.storage.proc_sampler:
        path: "{{ host_dir }}/tamper.jsonl"
        pid_file: "{{ host_dir }}/tamper.pid"
        state: stopped
        token: "{{ telemetry_jobs.tamper.token }}"
        stop_wait: 10
      become: true
      register: accepted
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: stop}
      vars: {telemetry_label: tamper, telemetry_collect_dir: "{{ collect_dir }}", telemetry_benchmark: training,
             telemetry_timestamp: "20261123_141500", telemetry_stop_timeout: 10}
    - ansible.builtin.copy:
        content: "{{ {'refused': refused, 'minus_one': minus_one, 'accepted': accepted} | to_json }}"
        dest: "{{ out }}"
        mode: "0644"
"""


def test_tampered_pid_file_is_never_signalled_with_become(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("become to root on localhost without a password needs root")
    victim = subprocess.Popen(["sleep", "60"])
    try:
        out = tmp_path / "out.json"
        host_dir = tmp_path / "host"
        run_playbook(tmp_path, TAMPERED, {"host_dir": str(host_dir), "collect_dir": str(tmp_path / "results" / "run"),
                                          "victim": victim.pid, "out": str(out), "ansible_become_method": "su"})
        seen = json.loads(out.read_text())
        assert seen["refused"]["outcome"] == "refused" and seen["refused"]["signalled"] is False, seen
        assert "(a reused pid or another program)" in seen["refused"]["reason"]
        assert victim.poll() is None  # still running
        assert seen["minus_one"]["outcome"] == "refused" and "positive process id" in seen["minus_one"]["reason"]
        assert seen["accepted"]["outcome"] == "terminated" and seen["accepted"]["signalled"] is True
        assert_no_sampler_left(host_dir / "tamper.jsonl", str(tmp_path))
    finally:
        victim.kill()
        victim.wait()
