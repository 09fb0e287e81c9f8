#!/usr/bin/env python3
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the per-host parts of a benchmark play scale with the number of clients.

For N = 1, 2, 4, 8 namespace SSH hosts (tests/harness/netns.py; root, iproute2, openssh-server), runs two plays
with forks >= N and times each: preflight (roles config + preflight: facts, lock check, MPI, directory probes,
shared-filesystem sentinels, SSH from the launcher to every peer, one table) and telemetry around a 1 s phase
(start the sampler on every host, stop it, collect and merge), then ten controller-only and ten remote tasks
(what one task costs per host, whatever it does). Prints the table and the marginal cost per host
(least-squares slope over N). All hosts share this machine's cores: the slope includes their contention, which a
real cluster (one client per machine) does not have. Run from the repository root, as root:

    .venv/bin/python bench/multihost_scale.py [--hosts 1 2 4 8] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from harness.netns import NetnsHosts, missing_prerequisites  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _targets import target_line  # noqa: E402

VENV = "/var/tmp/mlperf-storage/venv"

PREFLIGHT = """
- hosts: clients
  gather_facts: false
  roles:
    - role: mlperf.storage.config
    - role: mlperf.storage.preflight
"""

TELEMETRY = """
- hosts: clients
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: start}
      vars:
        telemetry_label: bench
        telemetry_host_dir: "{{ work_root }}/{{ inventory_hostname }}/telemetry"
        telemetry_paths: {data_dir: "{{ mlperf_data_dir }}"}
        telemetry_max_duration: 120
    - name: The phase
      ansible.builtin.command: sleep 1
      changed_when: false
    - ansible.builtin.include_role: {name: mlperf.storage.telemetry, tasks_from: stop}
      vars:
        telemetry_label: bench
        telemetry_collect_dir: "{{ collect_dir }}"
        telemetry_benchmark: training
        telemetry_timestamp: "20261123_120000"
"""


# What one task costs per host, apart from what the tasks do: TASKS tasks that never leave the controller, then
# TASKS tasks that run a module on every host (SSH, pipelining, the host's Python). The slopes over N, divided by
# TASKS, are the per host-task costs the controller-cost model of docs/performance.md is built from.
TASKS = 10
CONTROLLER_TASKS = "- hosts: clients\n  gather_facts: false\n  tasks:\n" + "".join(
    "    - ansible.builtin.set_fact: {bench_fact_%d: true}\n" % i for i in range(TASKS))
REMOTE_TASKS = "- hosts: clients\n  gather_facts: false\n  tasks:\n" + "".join(
    "    - ansible.builtin.command: \"true\"\n      changed_when: false\n" for _ in range(TASKS))


def play(harness, text, extra, workdir, name):
    book = os.path.join(workdir, name + ".yml")
    with open(book, "w") as handle:
        handle.write(text)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORKS=str(max(5, len(harness.hosts))), ANSIBLE_ASYNC_DIR=os.path.join(workdir, "async"))
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", harness.inventory_path, book,
            "-e", json.dumps(extra)]
    began = time.time()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.time() - began
    if proc.returncode != 0:
        raise SystemExit("%s failed with %d hosts:\n%s" % (name, len(harness.hosts), proc.stdout[-4000:]))
    return seconds


def measure(n):
    with NetnsHosts(n=n) as harness, tempfile.TemporaryDirectory(prefix="mlperf-bench-") as workdir:
        results = os.path.join(workdir, "results")
        os.makedirs(results)
        for host in harness.hosts:
            os.makedirs(os.path.join(workdir, host.name, "work"))
        extra = {"mlperf_data_dir": harness.data_dir, "mlperf_results_dir": results, "mlperf_division": "open",
                 "mlperf_work_dir": workdir + "/{{ inventory_hostname }}/work", "mlperf_env_profile": "embedded",
                 "python_env_dir": VENV, "mlperf_allow_invalid": True, "work_root": workdir,
                 "collect_dir": os.path.join(workdir, "collected")}
        return {"hosts": n, "preflight_s": round(play(harness, PREFLIGHT, extra, workdir, "preflight"), 1),
                "telemetry_s": round(play(harness, TELEMETRY, extra, workdir, "telemetry"), 1),
                "controller_tasks_s": round(play(harness, CONTROLLER_TASKS, extra, workdir, "controller"), 2),
                "remote_tasks_s": round(play(harness, REMOTE_TASKS, extra, workdir, "remote"), 2)}


def slope(xs, ys):
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 4, 8],
                        help="host counts to measure (default 1 2 4 8; --hosts 1 is the quickest run)")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    reasons = missing_prerequisites()
    if reasons:
        raise SystemExit("cannot create namespace hosts: " + "; ".join(reasons))
    rows = [measure(n) for n in args.hosts]
    print("%5s  %12s  %12s  %10s" % ("hosts", "preflight s", "telemetry s", "total s"))
    for row in rows:
        print("%5d  %12.1f  %12.1f  %10.1f" % (row["hosts"], row["preflight_s"], row["telemetry_s"],
                                               row["preflight_s"] + row["telemetry_s"]))
    xs = [r["hosts"] for r in rows]
    if len(set(xs)) > 1:
        marginal = {key: round(slope(xs, [r[key] for r in rows]), 2) for key in ("preflight_s", "telemetry_s")}
        print("marginal cost per host: preflight %.2f s, telemetry start/stop %.2f s (forks >= hosts, %d cores)"
              % (marginal["preflight_s"], marginal["telemetry_s"], os.cpu_count()))
        for key in ("controller_tasks_s", "remote_tasks_s"):
            marginal[key.replace("_tasks_s", "_task_per_host_s")] = round(
                slope(xs, [r[key] for r in rows]) / TASKS, 3)
        print("one task per extra host: %.3f s on the controller alone, %.3f s running a module on the host"
              % (marginal["controller_task_per_host_s"], marginal["remote_task_per_host_s"]))
    else:  # a slope needs two host counts
        marginal = {"preflight_s": None, "telemetry_s": None, "controller_task_per_host_s": None,
                    "remote_task_per_host_s": None}
        print("marginal cost per host: not measured (one host count; pass two or more to --hosts)")
    print(target_line("preflight cost per extra host", marginal["preflight_s"]))
    # one telemetry window spans a run set, so its per-host cost is paid once per invocation, not per run
    print(target_line("telemetry cost per run per extra host", marginal["telemetry_s"]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"rows": rows, "marginal_per_host": marginal, "cores": os.cpu_count()}, handle, indent=2)


if __name__ == "__main__":
    main()
