# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Molecule scenario extensions/molecule/multihost: create starts three namespace SSH hosts, converge runs
preflight across them, verify checks it found no error, destroy tears the hosts down (about 40 s)."""
import os
import re
import subprocess
import sys

import pytest

from _testpaths import REPO
from harness.netns import missing_prerequisites

pytestmark = pytest.mark.multihost


def namespaces():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return set(line.split()[0] for line in out.splitlines() if line.strip())


def test_molecule_multihost_scenario(tmp_path):
    molecule = os.path.join(os.path.dirname(sys.executable), "molecule")
    if not os.path.exists(molecule):
        pytest.skip("molecule is not installed in this environment (pip install -r requirements/test.txt)")
    reasons = missing_prerequisites()
    if reasons:
        pytest.skip("namespace SSH test hosts unavailable: " + "; ".join(reasons))
    env = dict(os.environ, NO_COLOR="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    env["PATH"] = os.path.dirname(molecule) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([molecule, "test", "-s", "multihost"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)
    assert proc.returncode == 0, out[-6000:]
    for step in ("create", "converge", "verify", "destroy"):
        assert re.search(r"multihost\W+%s\W+Executed: Successful" % step, out), (step, out[-6000:])
    # converge really reached the three hosts over SSH
    for host in ("node1", "node2", "node3"):
        assert re.search(r"ok: \[%s\]" % host, out), (host, out[-6000:])
    # destroy ran the harness's teardown: the namespaces it made are gone
    made = set(re.findall(r"(mlpst\d+)-", out))
    assert made, out[-3000:]
    assert not any(ns.startswith(tuple(m + "n" for m in made)) for ns in namespaces()), namespaces()
