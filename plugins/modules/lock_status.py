#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: lock_status
short_description: Compare a Python virtual environment with an environment lock file
version_added: "0.1.0"
description:
  - Reads the distributions installed in a virtual environment from their C(*.dist-info) metadata and
    compares them with a lock file in which every distribution is pinned exactly.
  - Never changes anything; reports every mismatch with the command that repairs it.
  - Distributions present in the environment but absent from the lock are not mismatches.
options:
  venv:
    description: Path of the virtual environment.
    type: path
    required: true
  lock:
    description:
      - Path of the lock file on the target host.
      - When neither O(lock) nor O(lock_content) is given, C(<venv>/mlperf-lock.txt) is read.
    type: path
  lock_content:
    description:
      - Text of the lock file, for checking hosts where the lock has not been placed yet.
    type: str
  owner_check:
    description:
      - Also check who can change the environment and its parents, as M(mlperf.storage.safe_dir) does (owned by
        root, the user the module runs as or one of O(trusted_owners), not writable by others); the finding is
        C(owner). Reported, never a failure here, so a preflight can collect every host's problems; the caller
        decides whether to stop. Saves a task per host.
    type: bool
    default: false
  trusted_owners:
    description: With O(owner_check), further users who may own the environment's directories.
    type: list
    elements: str
    default: []
  index_url:
    description: Index URL to put in the suggested repair command.
    type: str
  extra_index_urls:
    description: Extra index URLs to put in the suggested repair command.
    type: list
    elements: str
    default: []
  find_links:
    description: Find-links locations (wheelhouses) to put in the suggested repair command.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
notes:
  - Runs with the host's own Python; the environment's interpreter is never executed.
extends_documentation_fragment:
  - mlperf.storage.common
"""

EXAMPLES = r"""
- name: Check the benchmark environment against its lock
  mlperf.storage.lock_status:
    venv: /opt/mlperf-storage/venv
    lock: /opt/mlperf-storage/venv/mlperf-lock.txt
  register: env_lock

- name: Show what does not match
  ansible.builtin.debug:
    var: env_lock.mismatches
  when: not env_lock.matches
"""

RETURN = r"""
owner:
  description:
    - With O(owner_check), who can change the environment - C(safe), C(problems) (as M(mlperf.storage.safe_dir)
      returns them) and C(msg) (every problem with its fix; empty when safe).
  returned: when owner_check is true
  type: dict
  sample: {safe: true, problems: [], msg: ""}
exists:
  description: Whether the virtual environment exists (has a C(pyvenv.cfg)).
  returned: always
  type: bool
  sample: true
matches:
  description: True when the environment exists, its Python matches the lock and every pin is satisfied.
  returned: always
  type: bool
  sample: false
mismatches:
  description: One entry per pinned distribution that is missing, at another version or from another source.
  returned: always
  type: list
  elements: dict
  sample: [{"package": "numpy", "kind": "version", "expected": "2.4.6", "actual": "2.3.0"}]
python_version:
  description: Python version of the environment (from C(pyvenv.cfg)), or null when it does not exist.
  returned: always
  type: str
  sample: "3.11.7"
python_expected:
  description: The Python version the lock was made for (C(# python:) header), or null.
  returned: always
  type: str
  sample: "3.11"
lock_hash:
  description: SHA-256 of the lock's pin lines (order and comments ignored).
  returned: always
  type: str
  sample: 0c5a1e...
header:
  description: "The lock's header fields (comment lines C(# key: value) before the first pin)."
  returned: always
  type: dict
  sample: {"profile": "embedded", "python": "3.11"}
installed_count:
  description: Number of distributions found in the environment.
  returned: always
  type: int
  sample: 57
fix_command:
  description:
    - Command that repairs exactly the reported mismatches, or null when there are none.
    - For a missing environment, the commands that create it from O(lock), or (with O(lock_content)) the
      playbook that provisions it.
  returned: always
  type: str
  sample: /opt/mlperf-storage/venv/bin/python -m pip install --no-deps numpy==2.4.6
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mlperf.storage.plugins.module_utils import _lock
from ansible_collections.mlperf.storage.plugins.module_utils._safe_dir import owner_finding, resolve_uids


def read_pyvenv_version(venv):
    try:
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition("=")
                if key.strip() in ("version", "version_info"):
                    return value.strip()
    except OSError:
        return None
    return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            venv=dict(type="path", required=True),
            owner_check=dict(type="bool", default=False),
            trusted_owners=dict(type="list", elements="str", default=[]),
            lock=dict(type="path"),
            lock_content=dict(type="str"),
            index_url=dict(type="str"),
            extra_index_urls=dict(type="list", elements="str", default=[]),
            find_links=dict(type="list", elements="str", default=[]),
        ),
        mutually_exclusive=[("lock", "lock_content")],
        supports_check_mode=True,
    )
    venv = module.params["venv"]
    lock_path = module.params["lock"] or os.path.join(venv, "mlperf-lock.txt")
    text = module.params["lock_content"]
    if text is None:
        try:
            with open(lock_path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            module.fail_json(msg="cannot read lock file %s: %s" % (lock_path, exc))
    try:
        lock = _lock.parse_lock(text)
    except _lock.LockError as exc:
        module.fail_json(msg="lock file %s: %s" % (lock_path, exc))

    python_version = read_pyvenv_version(venv)
    exists = python_version is not None
    site_dirs = glob.glob(os.path.join(venv, "lib*", "python*", "site-packages")) if exists else []
    installed = _lock.installed_distributions(site_dirs)
    problems = _lock.compare(lock, installed)
    expected_python = lock["header"].get("python")
    if exists and expected_python and not (
        python_version == expected_python or python_version.startswith(expected_python + ".")
    ):
        problems.insert(0, {"package": "python", "kind": "python", "expected": expected_python,
                            "actual": python_version})
    python = os.path.join(venv, "bin", "python")
    fix = None
    pin_problems = [p for p in problems if p["kind"] != "python"]
    index = dict(index_url=module.params["index_url"], extra_index_urls=module.params["extra_index_urls"],
                 find_links=module.params["find_links"])
    if not exists:
        if module.params["lock_content"] is None:
            creator = "python" + (expected_python or "3")
            fix = "%s -m venv %s && %s" % (creator, _lock.shell_quote(venv), " ".join(
                _lock.shell_quote(a) for a in _lock.pip_install_argv(python, lock_path, **index)))
        else:  # the lock text came from the controller: there is no file on this host to install from
            fix = "run playbooks/provision.yml (role mlperf.storage.python_env) to create %s" % venv
    elif pin_problems:
        fix = _lock.fix_command(python, lock, pin_problems, lock_path, **index)
    if exists and len(problems) != len(pin_problems):
        fix = "recreate %s with Python %s (remove it and run the mlperf.storage.python_env role)" % (
            venv, expected_python)
    owner = {}
    if module.params["owner_check"]:
        owner = {"owner": owner_of(module, venv)}
    module.exit_json(
        changed=False,
        exists=exists,
        matches=exists and not problems,
        mismatches=problems,
        python_version=python_version,
        python_expected=expected_python,
        lock_hash=_lock.lock_hash(text),
        header=lock["header"],
        installed_count=len(installed),
        fix_command=fix,
        **owner
    )


def owner_of(module, venv):
    trusted, unknown = resolve_uids(module.params["trusted_owners"])
    if unknown:
        module.fail_json(msg="lock_status: trusted_owners names users that do not exist on this host: %s"
                             % ", ".join(unknown))
    return owner_finding(venv, trusted_uids=trusted)


if __name__ == "__main__":
    main()
