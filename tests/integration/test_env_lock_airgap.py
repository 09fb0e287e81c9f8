# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Air-gapped sites: python_env_index_url and python_env_find_links reach pip.

A wheelhouse is built with `pip download`; the index is an empty local directory and pip's own
configuration is switched off, so the wheelhouse is the only source. Without python_env_find_links the
install must fail (which proves the empty index replaced PyPI); with it the install succeeds, and the
repair command printed for a broken environment carries both settings and works as printed.
"""
import glob
import json
import os
import re
import subprocess
import sys

import pytest

from _testpaths import REPO

pytestmark = pytest.mark.integration

PY = "%d.%d" % sys.version_info[:2]
PINS = ["six==1.17.0", "idna==3.20"]

PLAY = """
- hosts: localhost
  gather_facts: false
  vars:
    env_vars: &env
      python_env_lock_file: "{{ scratch }}/lock.txt"
      python_env_dir: "{{ scratch }}/venv"
      python_env_python: "{{ ansible_playbook_python }}"
      python_env_index_url: "file://{{ scratch }}/empty-index"
      python_env_install_timeout: 300
  tasks:
    - name: Without the wheelhouse nothing can be installed
      block:
        - ansible.builtin.include_role: {name: mlperf.storage.python_env}
          vars: *env
        - ansible.builtin.set_fact: {without_wheelhouse: {failed: false}}
      rescue:
        - ansible.builtin.set_fact:
            without_wheelhouse: {failed: true, task: "{{ ansible_failed_task.name }}",
                                 stderr: "{{ ansible_failed_result.stderr | default(ansible_failed_result.msg) }}"}

    - name: With the wheelhouse the lock installs
      ansible.builtin.include_role: {name: mlperf.storage.python_env}
      vars:
        <<: *env
        python_env_find_links: ["{{ scratch }}/wheelhouse"]

    - ansible.builtin.set_fact: {installed: "{{ python_env_result }}"}

    - name: Break the environment (idna disappears)
      ansible.builtin.shell: rm -rf {{ scratch }}/venv/lib/python*/site-packages/idna*
      changed_when: true

    - name: Check mode reports the repair, with the air-gapped sources
      ansible.builtin.include_role: {name: mlperf.storage.python_env}
      vars:
        <<: *env
        python_env_find_links: ["{{ scratch }}/wheelhouse"]
        python_env_mode: check

    - ansible.builtin.copy:
        content: "{{ {'without_wheelhouse': without_wheelhouse, 'installed': installed,
                      'broken': python_env_result} | to_json }}"
        dest: "{{ scratch }}/result.json"
        mode: "0644"
"""


def test_index_url_and_find_links_reach_pip(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--dest", str(wheelhouse)] + PINS,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    if download.returncode != 0:
        pytest.skip("cannot build the wheelhouse with pip download (no package index reachable): %s"
                    % download.stdout.strip()[-300:])
    (tmp_path / "empty-index").mkdir()
    (tmp_path / "lock.txt").write_text("# profile: airgap\n# python: %s\n%s\n" % (PY, "\n".join(PINS)))
    book = tmp_path / "play.yml"
    book.write_text(PLAY)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
                         "      ansible_python_interpreter: %s\n" % sys.executable)
    # Only the role's settings may name package sources: no pip.conf, no PIP_* variables.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory), str(book),
         "-e", json.dumps({"scratch": str(tmp_path)})],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-5000:]
    result = json.loads((tmp_path / "result.json").read_text())

    failed = result["without_wheelhouse"]
    assert failed["failed"] is True and failed["task"].startswith("Install the lock"), failed
    assert re.search(r"(No matching distribution|Could not find a version).*six", failed["stderr"]), failed

    assert result["installed"]["matches"] is True and result["installed"]["mismatches"] == []

    broken = result["broken"]
    assert broken["matches"] is False
    assert broken["mismatches"] == [{"package": "idna", "kind": "missing", "expected": "3.20", "actual": None}]
    fix = broken["fix_command"]
    assert "--index-url file://%s/empty-index" % tmp_path in fix
    assert "--find-links %s/wheelhouse" % tmp_path in fix
    assert fix.endswith(" idna==3.20")
    assert not glob.glob(str(tmp_path / "venv" / "lib" / "python*" / "site-packages" / "idna*"))

    # The printed repair works as printed, from the wheelhouse alone.
    repair = subprocess.run(fix, shell=True, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=300)
    assert repair.returncode == 0, repair.stdout
    check = subprocess.run([str(tmp_path / "venv" / "bin" / "python"), "-c", "import idna; print(idna.__version__)"],
                           stdout=subprocess.PIPE, universal_newlines=True)
    assert check.stdout.strip() == "3.20"
