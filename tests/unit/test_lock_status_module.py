# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lock_status module against real (tiny) virtual environments: in-process for the cases, and once
through ansible-playbook on localhost for the real module path including check mode."""
import ast
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

from ansible_collections.mlperf.storage.plugins.module_utils import _lock
from ansible_collections.mlperf.storage.plugins.modules import lock_status
from _testpaths import REPO

PY = "%d.%d" % sys.version_info[:2]
LOCK = "# profile: tiny\n# python: %s\nsix==1.17.0\nidna==3.20\n" % PY


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A real venv (no pip: fast) with fabricated dist-info for six 1.17.0 and idna 3.10."""
    path = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = path / "lib" / ("python" + PY) / "site-packages"
    assert site.is_dir()
    for name, version in (("six", "1.17.0"), ("idna", "3.10")):
        info = site / ("%s-%s.dist-info" % (name, version))
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))
    return path


def run(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            lock_status.main()
    return json.loads(capsys.readouterr().out)


def test_version_mismatch_with_fix_command(venv, tmp_path, capsys):
    lock = tmp_path / "lock.txt"
    lock.write_text(LOCK)
    result = run({"venv": str(venv), "lock": str(lock)}, capsys)
    assert result["changed"] is False and result["exists"] is True and result["matches"] is False
    assert result["python_version"].startswith(PY + ".") and result["python_expected"] == PY
    assert result["mismatches"] == [{"package": "idna", "kind": "version", "expected": "3.20", "actual": "3.10"}]
    assert result["fix_command"] == ("%s/bin/python -m pip install --no-deps --disable-pip-version-check "
                                     "--no-input idna==3.20" % venv)
    assert result["installed_count"] == 2
    assert result["header"] == {"profile": "tiny", "python": PY}
    assert result["lock_hash"] == _lock.lock_hash(LOCK)


def test_matching_environment(venv, capsys):
    result = run({"venv": str(venv), "lock_content": "# python: %s\nsix==1.17.0\nidna==3.10\n" % PY}, capsys)
    assert result["matches"] is True and result["mismatches"] == [] and result["fix_command"] is None


def test_owner_check_reports_who_can_change_the_environment(venv, tmp_path, capsys):
    lock = "# python: %s\nsix==1.17.0\nidna==3.10\n" % PY
    result = run({"venv": str(venv), "lock_content": lock, "owner_check": True}, capsys)
    assert result["owner"] == {"safe": True, "problems": [], "msg": ""} and result["matches"] is True
    assert "owner" not in run({"venv": str(venv), "lock_content": lock}, capsys)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    result = run({"venv": str(shared / "env"), "lock_content": lock, "owner_check": True}, capsys)
    owner = result["owner"]
    assert owner["safe"] is False and owner["msg"].startswith("refusing to use %s" % (shared / "env"))
    assert [p["path"] for p in owner["problems"]] == [str(shared)] and "fix:" in owner["msg"]
    result = run({"venv": str(venv), "lock_content": lock, "owner_check": True, "trusted_owners": ["no-such-user-x"]},
                 capsys)
    assert result["failed"] and "no-such-user-x" in result["msg"]


def test_default_lock_path_is_inside_the_venv(venv, capsys):
    (venv / "mlperf-lock.txt").write_text("six==1.17.0\n")
    try:
        result = run({"venv": str(venv)}, capsys)
    finally:
        (venv / "mlperf-lock.txt").unlink()
    assert result["matches"] is True and result["python_expected"] is None


def test_missing_package_and_repair_sources_in_fix(venv, capsys):
    result = run({"venv": str(venv), "lock_content": "six==1.17.0\nnumpy==2.4.6\n",
                  "index_url": "file:///srv/empty", "find_links": ["/srv/wheels"]}, capsys)
    assert result["mismatches"] == [{"package": "numpy", "kind": "missing", "expected": "2.4.6", "actual": None}]
    assert "--index-url file:///srv/empty --find-links /srv/wheels numpy==2.4.6" in result["fix_command"]


def test_python_version_mismatch_means_recreate(venv, capsys):
    result = run({"venv": str(venv), "lock_content": "# python: 3.99\nsix==1.17.0\nidna==3.1\n"}, capsys)
    assert result["matches"] is False
    assert result["mismatches"][0] == {"package": "python", "kind": "python", "expected": "3.99",
                                       "actual": result["python_version"]}
    assert [p["package"] for p in result["mismatches"][1:]] == ["idna"]
    assert result["fix_command"].startswith("recreate %s with Python 3.99" % venv)


def test_python_header_is_a_version_prefix_not_a_string_prefix(venv, capsys):
    # 3.1 must not be taken for 3.11.x
    result = run({"venv": str(venv), "lock_content": "# python: %s\nsix==1.17.0\n" % PY[:-1]}, capsys)
    assert result["mismatches"][0]["kind"] == "python"


def test_absent_venv(tmp_path, capsys):
    lock = tmp_path / "my lock.txt"
    lock.write_text(LOCK)
    result = run({"venv": str(tmp_path / "nope"), "lock": str(lock)}, capsys)
    assert result["exists"] is False and result["matches"] is False and result["python_version"] is None
    assert [p["kind"] for p in result["mismatches"]] == ["missing", "missing"]
    assert result["fix_command"] == ("python%s -m venv %s/nope && %s/nope/bin/python -m pip install --no-deps "
                                     "--disable-pip-version-check --no-input -r '%s'" % (PY, tmp_path, tmp_path, lock))
    result = run({"venv": str(tmp_path / "nope"), "lock_content": LOCK}, capsys)
    assert result["fix_command"] == "run playbooks/provision.yml (role mlperf.storage.python_env) to create %s" % (
        tmp_path / "nope")


def test_bad_input_is_explained(venv, tmp_path, capsys):
    result = run({"venv": str(venv), "lock_content": "six==1.17.0\nidna>=3\n"}, capsys)
    assert result["failed"] is True
    assert "lock line 2: 'idna>=3' is not an exact pin" in result["msg"]
    result = run({"venv": str(venv), "lock": str(tmp_path / "missing.txt")}, capsys)
    assert result["failed"] is True and "cannot read lock file %s" % (tmp_path / "missing.txt") in result["msg"]
    result = run({"venv": str(venv), "lock": "/x", "lock_content": "six==1"}, capsys)
    assert result["failed"] is True and "mutually exclusive" in result["msg"]
    assert "Traceback" not in json.dumps(result)


def test_documentation_parses_and_matches_argument_spec():
    path = os.path.join(REPO, "plugins", "modules", "lock_status.py")
    with open(path) as handle:
        source = handle.read()
    blocks = dict((node.targets[0].id, node.value.value) for node in ast.parse(source).body
                  if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                  and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN"))
    doc = yaml.safe_load(blocks["DOCUMENTATION"])
    returns = yaml.safe_load(blocks["RETURN"])
    assert any("mlperf.storage.lock_status" in task for task in yaml.safe_load(blocks["EXAMPLES"]))
    for option, spec in doc["options"].items():
        assert re.search(r"\b%s=dict\(type=\"%s\"" % (option, spec["type"]), source), option
    assert set(returns) == {"exists", "matches", "mismatches", "python_version", "python_expected", "lock_hash",
                            "header", "installed_count", "fix_command", "owner"}


PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Check mode reports the same and changes nothing
      mlperf.storage.lock_status:
        venv: "{{ venv }}"
        lock: "{{ lock }}"
      check_mode: true
      register: in_check
    - name: Normal mode
      mlperf.storage.lock_status:
        venv: "{{ venv }}"
        lock_content: "# python: 3.0\\nsix==1.17.0\\n"
      register: wrong_python
    - name: Keep the results
      ansible.builtin.copy:
        content: "{{ {'in_check': in_check, 'wrong_python': wrong_python} | to_json }}"
        dest: "{{ out }}"
        mode: "0644"
      check_mode: false
"""


def test_through_ansible_on_localhost(venv, tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text(LOCK)
    book = tmp_path / "play.yml"
    book.write_text(PLAY)
    out = tmp_path / "out.json"
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
                         "      ansible_python_interpreter: %s\n" % sys.executable)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory), str(book),
         "-e", json.dumps({"venv": str(venv), "lock": str(lock), "out": str(out)})],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert re.search(r"localhost\s*: ok=3\s+changed=1 ", proc.stdout)  # only the results file
    results = json.loads(out.read_text())
    assert results["in_check"]["changed"] is False
    assert results["in_check"]["mismatches"] == [{"package": "idna", "kind": "version", "expected": "3.20",
                                                  "actual": "3.10"}]
    assert results["wrong_python"]["mismatches"][0]["kind"] == "python"
    assert results["wrong_python"]["matches"] is False
