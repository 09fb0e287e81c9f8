# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The telemetry role across three SSH hosts (network namespaces): one sampler is killed mid-phase
and one host drops off the network before stop. The play must go on and the collected tree must
say exactly what happened."""
import json
import os
import re
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from test_telemetry_role import REPO, assert_no_sampler_left, playbook_bin  # noqa: E402

pytestmark = [pytest.mark.multihost, pytest.mark.reliability]

PLAY = """
- hosts: clients
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: start}
      vars:
        telemetry_label: run_1
        telemetry_host_dir: "{{ host_root }}/{{ inventory_hostname }}"
        telemetry_paths: {data_dir: "{{ data_dir }}"}
        telemetry_interval: 0.2
        telemetry_max_duration: 45
    - name: Wait for each sampler to run
      ansible.builtin.wait_for: {path: "{{ host_root }}/{{ inventory_hostname }}/run_1.pid", timeout: 30}
    - name: The phase
      ansible.builtin.command: sleep 2
      changed_when: false
    - name: The cut host's fault happens now (the controller takes it off the network)
      ansible.builtin.file: {path: "{{ host_root }}/phase_done", state: touch, mode: "0644"}
      run_once: true
      delegate_to: localhost
    - name: Give the controller time to kill one sampler and cut one host
      ansible.builtin.wait_for: {path: "{{ host_root }}/faults_done", timeout: 60}
      delegate_to: localhost
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: stop}
      vars:
        telemetry_label: run_1
        telemetry_collect_dir: "{{ collect_dir }}"
        telemetry_benchmark: training
        telemetry_timestamp: "20261123_121500"
        telemetry_stop_timeout: 10
    - name: Every host that finished sees the summary (it was set once, for all)
      ansible.builtin.assert:
        that: telemetry_summary.timeseries_data.file == 'training_20261123_121500_timeseries.json'
    - name: The play goes on after stop
      ansible.builtin.copy:
        content: "{{ telemetry_summary | to_json }}"
        dest: "{{ collect_dir }}/../summary_seen.json"
        mode: "0644"
      run_once: true
      delegate_to: localhost
"""


def host_pids(harness, host):
    """A callable giving the pids (as seen from here) of the processes inside ``host``."""
    netns = harness.host(host).netns

    def pids():
        out = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout
        return set(int(p) for p in out.split() if p.isdigit())
    return pids


def test_three_hosts_one_sampler_killed_one_host_cut(netns_hosts, tmp_path):
    harness = netns_hosts(n=3, python="/usr/bin/python3")
    host_root = tmp_path / "hosts"
    host_root.mkdir()
    collect = tmp_path / "results" / "run"
    book = tmp_path / "play.yml"
    book.write_text(PLAY)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_ASYNC_DIR=str(tmp_path / "async"))
    argv = [playbook_bin(), "-i", harness.inventory_path, str(book), "-e",
            json.dumps({"host_root": str(host_root), "collect_dir": str(collect), "data_dir": harness.data_dir})]
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    try:
        deadline = time.time() + 120
        while not (host_root / "phase_done").exists():
            assert proc.poll() is None and time.time() < deadline, proc.communicate()[0][-5000:]
            time.sleep(0.2)
        # the pid file holds node2's own number for its sampler (every host has its own process namespace)
        pid = harness.outer_pid("node2", int((host_root / "node2" / "run_1.pid").read_text()))
        os.kill(pid, 9)
        harness.cut("node3")
        (host_root / "faults_done").write_text("")
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    # node3 is unreachable, so the run ends with a non-zero status, but node1 and node2 finished the play
    recap = dict((line.split()[0], line) for line in out.splitlines() if re.match(r"^node\d\s+:", line))
    assert "failed=0" in recap["node1"] and "unreachable=0" in recap["node1"], out[-6000:]
    assert "failed=0" in recap["node2"] and "unreachable=0" in recap["node2"], out[-6000:]
    assert "unreachable=1" in recap["node3"], out[-6000:]
    assert (tmp_path / "results" / "summary_seen.json").exists(), out[-6000:]
    summary = json.loads((tmp_path / "results" / "summary_seen.json").read_text())

    assert summary["sampler_failed"] == ["node2"]
    warnings = "\n".join(summary["warnings"])
    assert "node3: no telemetry" in warnings and "node2: sampler failed" in warnings
    assert summary["timeseries_data"]["hosts_collected"] == ["node1", "node2"]
    hosts = summary["system_info"]["hosts"]
    assert [h["hostname"] for h in hosts] == ["node1", "node2"]  # each host's own UTS name
    assert summary["system_info"]["num_hosts"] == 2
    assert summary["system_info"]["host_consistency_issues"] == []  # same machine underneath

    index = json.loads((collect / "training_20261123_121500_timeseries.json").read_text())
    assert index["hosts_requested"] == ["node1", "node2", "node3"]
    assert index["hosts"]["node1"]["stop_reason"] == "stop_file"
    assert index["hosts"]["node2"]["samples"] >= 5  # what it wrote before the kill is kept
    assert index["hosts"]["node1"]["samples"] > index["hosts"]["node2"]["samples"]
    assert sorted(os.listdir(collect / "telemetry")) == sorted(
        ["node1.jsonl", "node2.jsonl", "node1_snapshot_start.json", "node1_snapshot_end.json",
         "node2_snapshot_start.json", "node2_snapshot_end.json", "snapshot_diff.json", "summary.json"])

    # node3's sampler was never told to stop: max_duration ends it
    # each host's own jobs: node3's sampler rightly runs on until its max_duration while node1's must be gone
    assert_no_sampler_left(host_root / "node1" / "run_1.jsonl", str(tmp_path), within=host_pids(harness, "node1"))
    assert_no_sampler_left(host_root / "node3" / "run_1.jsonl", str(tmp_path), timeout=60,
                           within=host_pids(harness, "node3"))
    lines = (host_root / "node3" / "run_1.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["ts"] - json.loads(lines[0])["ts"] <= 45.0
