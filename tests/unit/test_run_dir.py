# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run directories are never reused: an existing timestamp directory fails and stays untouched."""
import json
import os
import subprocess
import sys
import time

import pytest

from _testpaths import REPO
from ansible_collections.mlperf.storage.plugins.module_utils import _results

NOW = time.mktime((2026, 11, 23, 10, 15, 0, 0, 0, -1))
STAMP = "20261123_101500"


def snapshot(root):
    """{relative path: bytes or None for a directory} of everything below root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, root)] = handle.read()
    return out


def test_reserve_creates_the_timestamp_directory(tmp_path):
    base = tmp_path / "results" / "run"
    path, stamp = _results.reserve_run_dir(str(base), now=NOW)
    assert stamp == STAMP and path == str(base / STAMP)
    assert os.path.isdir(path) and os.listdir(path) == []
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o755)


def test_existing_run_directory_fails_and_is_untouched(tmp_path):
    base = tmp_path / "run"
    earlier = base / STAMP
    (earlier / "dlio_config").mkdir(parents=True)
    (earlier / "summary.json").write_text('{"metric": 1}')
    (earlier / "dlio_config" / "overrides.yaml").write_text("- a=1\n")
    os.chmod(str(earlier), 0o700)
    before = snapshot(str(base))
    with pytest.raises(_results.ResultsError) as err:
        _results.reserve_run_dir(str(base), now=NOW)
    assert str(err.value) == (
        "run directory %s already exists; a run never writes into an existing run directory "
        "(wait a second and rerun, or check for a concurrent run)" % earlier)
    assert snapshot(str(base)) == before
    assert oct(os.stat(str(earlier)).st_mode & 0o777) == oct(0o700)  # not even its mode changes


def test_base_that_cannot_be_created_names_it(tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("a file where the results tree should be")
    with pytest.raises(_results.ResultsError) as err:
        _results.reserve_run_dir(str(blocker / "run"), now=NOW)
    assert str(err.value).startswith("cannot create %s: " % (blocker / "run"))
    assert blocker.read_text() == "a file where the results tree should be"


def run_module(tmp_path, base):
    """Run mlperf.storage.run_dir through ansible (ad hoc, local connection); return (rc, result dict, output)."""
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    if not os.path.exists(ansible):
        pytest.skip("ansible-core is not installed next to %s" % sys.executable)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    proc = subprocess.run(
        [ansible, "localhost", "-i", "localhost,", "-c", "local", "-e",
         "ansible_python_interpreter=%s" % sys.executable, "-m", "mlperf.storage.run_dir", "-a",
         json.dumps({"base": str(base)})],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    # ad hoc output: "localhost | FAILED! => {...}"
    result = json.loads(proc.stdout.split(" => ", 1)[1])
    return proc.returncode, result, output


def test_module_reserves_a_new_directory(tmp_path):
    base = tmp_path / "run"
    rc, result, output = run_module(tmp_path, base)
    assert rc == 0, output
    assert result["changed"] is True and os.path.isdir(result["path"])
    assert result["path"] == str(base / result["timestamp"])


def test_module_fails_on_an_existing_directory_and_leaves_it_alone(tmp_path):
    base = tmp_path / "run"
    # every timestamp the module could pick in the next minute is already taken by an earlier run
    start = time.time()
    for offset in range(60):
        leaf = base / time.strftime(_results.TIMESTAMP_FORMAT, time.localtime(start + offset))
        leaf.mkdir(parents=True, exist_ok=True)
        (leaf / "summary.json").write_text('{"run": %d}' % offset)
    before = snapshot(str(base))
    rc, result, output = run_module(tmp_path, base)
    assert rc != 0
    assert "localhost | FAILED!" in output
    assert result["msg"].startswith("run directory %s/" % base)
    assert "already exists; a run never writes into an existing run directory" in result["msg"]
    assert "Traceback (most recent call last)" not in output
    assert snapshot(str(base)) == before


def test_a_run_in_the_same_second_gets_the_next_second(tmp_path):
    # two playbooks on one shared results directory reserving at once: neither writes into the other's run
    from ansible_collections.mlperf.storage.plugins.module_utils import _results

    first, stamp1 = _results.reserve_run_dir(str(tmp_path))
    second, stamp2 = _results.reserve_run_dir(str(tmp_path))
    assert first != second and stamp2 > stamp1
    assert sorted(os.listdir(str(tmp_path))) == sorted([stamp1, stamp2])
