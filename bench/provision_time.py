#!/usr/bin/env python3
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long provisioning takes when there is nothing (or everything) to do.

Runs playbooks/provision.yml on an inventory (default inventories/local) twice and prints the wall time
of each run and the changed count of each recap; the second run must change nothing (exit 1 if it does).
The first run may already find the hosts converged; then both runs measure the no-op path.
Then times the lock check alone on the environment: the core in-process (read every dist-info and
compare, what lock_status does on a host) and the module through ansible (ad-hoc, local connection).
Run from the repository root:

    python3 bench/provision_time.py [-i inventories/local] [--venv /var/tmp/mlperf-storage/venv] [--json out.json]

On a converged environment the whole run takes seconds (two no-op provisions); --skip-provision times the lock
check alone.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.mlperf.storage.plugins.module_utils import _lock  # noqa: E402

EMBEDDED_LOCK = os.path.join(REPO, "roles", "python_env", "files", "locks", "embedded.txt")


def tool(name):
    for candidate in (os.path.join(REPO, ".venv", "bin", name), os.path.join(os.path.dirname(sys.executable), name)):
        if os.path.exists(candidate):
            return candidate
    return name


def run_playbook(inventory, playbook):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    proc = subprocess.run([tool("ansible-playbook"), "-i", inventory, os.path.join(REPO, "playbooks", playbook)],
                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    seconds = time.monotonic() - start
    recap = {host: {"ok": int(ok), "changed": int(changed), "failed": int(failed)}
             for host, ok, changed, failed in re.findall(
                 r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout, re.M)}
    return {"seconds": round(seconds, 2), "rc": proc.returncode, "recap": recap,
            "changed": sum(r["changed"] for r in recap.values()), "tail": proc.stdout[-3000:]}


def time_core(venv, lock_text, repeat):
    """Median seconds of one full check (parse + read every dist-info + compare), in-process."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        lock = _lock.parse_lock(lock_text)
        installed = _lock.installed_distributions(glob.glob(os.path.join(venv, "lib*", "python*", "site-packages")))
        problems = _lock.compare(lock, installed)
        samples.append(time.perf_counter() - start)
    samples.sort()
    return {"median_ms": round(samples[len(samples) // 2] * 1000, 2), "installed": len(installed),
            "pins": len(lock["pins"]), "mismatches": len(problems)}


def time_module(inventory, venv, lock_path):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    proc = subprocess.run([tool("ansible"), "localhost", "-i", inventory, "-m", "mlperf.storage.lock_status",
                           "-a", json.dumps({"venv": venv, "lock": lock_path})],
                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    seconds = time.monotonic() - start
    matches = re.search(r'"matches": (true|false)', proc.stdout)
    return {"seconds": round(seconds, 2), "rc": proc.returncode, "matches": matches.group(1) if matches else None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", default=os.path.join(REPO, "inventories", "local"))
    parser.add_argument("--venv", default="/var/tmp/mlperf-storage/venv", help="environment to time lock_status on")
    parser.add_argument("--lock", default=EMBEDDED_LOCK)
    parser.add_argument("--repeat", type=int, default=20, help="in-process repetitions of the core check")
    parser.add_argument("--skip-provision", action="store_true", help="only time the lock check")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args(argv)

    out = {}
    if not args.skip_provision:
        for label in ("first", "second"):
            result = run_playbook(args.inventory, "provision.yml")
            out[label] = result
            print("provision.yml %-6s run: %7.1f s  rc=%d  ok=%d  changed=%d" % (
                label, result["seconds"], result["rc"], sum(r["ok"] for r in result["recap"].values()),
                result["changed"]))
            if result["rc"] != 0:
                print(result["tail"])
                return 1
    if os.path.exists(os.path.join(args.venv, "pyvenv.cfg")):
        with open(args.lock, encoding="utf-8") as handle:
            lock_text = handle.read()
        out["core"] = time_core(args.venv, lock_text, args.repeat)
        print("lock check, core in-process: %.1f ms (median of %d; %d pins, %d distributions, %d mismatches)" % (
            out["core"]["median_ms"], args.repeat, out["core"]["pins"], out["core"]["installed"],
            out["core"]["mismatches"]))
        out["module"] = time_module(args.inventory, args.venv, args.lock)
        print("lock_status module via ansible (ad-hoc, local): %.2f s  rc=%d  matches=%s" % (
            out["module"]["seconds"], out["module"]["rc"], out["module"]["matches"]))
    else:
        print("no environment at %s: lock check not timed" % args.venv)
    if args.json:
        for result in out.values():
            result.pop("tail", None)
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(out, handle, indent=1)
    if "second" in out and out["second"]["changed"] != 0:
        print("FAIL: the second provisioning run changed %d things (must be 0)" % out["second"]["changed"])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
