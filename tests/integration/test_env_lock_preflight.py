# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every host is checked against the lock and ALL mismatches of ALL hosts are reported at once.

Two SSH hosts (network namespaces), each with its own environment path (python_env_dir per host): node1
lacks a pinned package, node2 has a pinned package at another version. playbooks/preflight.yml in check
mode must fail once, at the report, listing both hosts' mismatches, each with the command that fixes it;
and after running those commands the same preflight has no environment problem left.
"""
import json
import os
import re
import subprocess
import sys

import pytest

from _testpaths import REPO

pytestmark = pytest.mark.multihost

PY = "%d.%d" % sys.version_info[:2]
LOCK = "# profile: tiny-test\n# python: %s\nsix==1.17.0\nidna==3.20\n" % PY


def fake_venv(path, dists):
    """A real venv (no pip) whose site-packages holds fabricated dist-info dirs."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    site = path / "lib" / ("python" + PY) / "site-packages"
    for name, version in dists:
        info = site / ("%s-%s.dist-info" % (name, version))
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))
    return site


def run_preflight(harness, inventory, tmp_path):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"))
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory),
            os.path.join(REPO, "playbooks", "preflight.yml"), "--check"]
    proc = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=600)
    return proc.returncode, proc.stdout


def env_rows(out):
    """(host, message, fix) of the env-lock rows in the first preflight table of the output."""
    start = out.index("preflight: ")
    table = out[start:].split("Origin:")[0]
    rows = []
    for line in table.splitlines():
        match = re.match(r"^\s*(\S+)\s+env-lock\s+(error|warning)\s+(.+?)\s{2,}(\S.*)$", line)
        if match:
            rows.append((match.group(1), match.group(3).strip(), match.group(4).strip()))
    return rows


def test_all_mismatches_of_all_hosts_at_once(netns_hosts, tmp_path):
    harness = netns_hosts(n=2, shared_data=True)
    venv_a, venv_b = tmp_path / "env-node1", tmp_path / "env-node2"
    site_a = fake_venv(venv_a, [("six", "1.17.0")])                       # idna missing
    fake_venv(venv_b, [("six", "1.17.0"), ("idna", "3.10")])              # idna at another version
    lock = tmp_path / "tiny.lock"
    lock.write_text(LOCK)
    dirs = {}
    for name in ("results", "work"):
        dirs[name] = tmp_path / name
        dirs[name].mkdir()

    inventory = harness.inventory()
    clients = inventory["all"]["children"]["clients"]
    clients["hosts"]["node1"]["python_env_dir"] = str(venv_a)
    clients["hosts"]["node2"]["python_env_dir"] = str(venv_b)
    clients["vars"].update({
        "mlperf_edition": "3.0", "mlperf_division": "closed", "mlperf_model": "unet3d",
        "mlperf_accelerator": "b200", "mlperf_accelerators_per_host": 1,
        "mlperf_data_dir": harness.data_dir, "mlperf_results_dir": str(dirs["results"]),
        "mlperf_work_dir": str(dirs["work"]), "python_env_lock_file": str(lock),
    })
    inventory_path = tmp_path / "inventory.yml"
    inventory_path.write_text(json.dumps(inventory, indent=2))

    rc, out = run_preflight(harness, inventory_path, tmp_path)
    (tmp_path / "preflight-1.log").write_text(out)
    assert rc != 0, out[-4000:]
    assert "Traceback (most recent call last)" not in out
    # One failure, at the report: no host stopped the play on its own.
    failures = [m.start() for m in re.finditer(r"^fatal: \[", out, re.M)]
    assert len(failures) == 1, out[-6000:]
    assert out[:failures[0]].rsplit("TASK [", 1)[1].startswith("mlperf.storage.preflight : Report every problem")

    rows = env_rows(out)
    pip = "-m pip install --no-deps --disable-pip-version-check --no-input"
    assert ("node1", "idna is not installed (lock pins 3.20)",
            "%s/bin/python %s idna==3.20" % (venv_a, pip)) in rows, rows
    assert ("node2", "idna is 3.10, lock pins 3.20",
            "%s/bin/python %s idna==3.20" % (venv_b, pip)) in rows, rows
    assert len(rows) == 2, rows

    # Do what the fixes would do (by hand: these venvs have no pip), then check again.
    fake_dir = site_a / "idna-3.20.dist-info"
    fake_dir.mkdir()
    (fake_dir / "METADATA").write_text("Name: idna\nVersion: 3.20\n")
    site_b = venv_b / "lib" / ("python" + PY) / "site-packages"
    (site_b / "idna-3.10.dist-info").rename(site_b / "idna-3.20.dist-info")
    (site_b / "idna-3.20.dist-info" / "METADATA").write_text("Name: idna\nVersion: 3.20\n")
    rc, out = run_preflight(harness, inventory_path, tmp_path)
    (tmp_path / "preflight-2.log").write_text(out)
    assert env_rows(out) == [], out[-4000:]
