# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Molecule scenarios under extensions/molecule, run with `molecule test` on this machine (no containers).

python_env: converge a tiny two-wheel lock into a scratch venv, converge again (idempotence: nothing may
change), verify the venv against the lock. About a minute here; pip fetches two small wheels.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

from _testpaths import REPO

pytestmark = pytest.mark.integration


def molecule_argv():
    here = os.path.join(os.path.dirname(sys.executable), "molecule")
    return [here] if os.path.exists(here) else ([shutil.which("molecule")] if shutil.which("molecule") else None)


@pytest.mark.parametrize("scenario", ["python_env"])
def test_molecule_scenario(scenario, tmp_path):
    argv = molecule_argv()
    if argv is None:
        pytest.skip("molecule is not installed in this environment (pip install -r requirements/test.txt)")
    env = dict(os.environ, NO_COLOR="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    env["PATH"] = os.path.dirname(argv[0]) + os.pathsep + env.get("PATH", "")
    version = subprocess.run(argv + ["--version"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True)
    if version.returncode != 0:
        pytest.skip("molecule cannot start here: %s" % version.stdout.strip().splitlines()[-1:])
    proc = subprocess.run(argv + ["test", "-s", scenario], cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=900)
    out = proc.stdout
    assert proc.returncode == 0, out[-6000:]
    for step in ("prepare", "converge", "idempotence", "verify"):
        assert re.search(r"%s\W+%s\W+Executed: Successful" % (scenario, step), out), (step, out[-6000:])
    # The converge installed something, the idempotence run changed nothing.
    recaps = re.findall(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)", out)
    assert len(recaps) >= 5, out[-6000:]
    assert int(recaps[1][1]) > 0 and int(recaps[2][1]) == 0 and int(recaps[3][1]) == 0, recaps
    # The collection in the checkout was used in place, never installed over the symlink.
    assert os.path.islink(os.path.join(REPO, ".collections", "ansible_collections", "mlperf", "storage"))
