#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: safe_dir
short_description: Create or check a directory the collection runs from or writes into; refuse one others control
version_added: "0.1.0"
description:
  - Walks O(path) from C(/) down and checks every existing component. Each must be owned by root, by the
    user the module runs as, or by one of O(trusted_owners). An ancestor must not be writable by its group
    or others unless it has the sticky bit (C(/tmp) and C(/var/tmp) pass). O(path) itself must not be writable
    by its group or others at all, because the collection writes fixed names into it (pid, stop and spool files, a
    virtual environment), and a stranger who can add entries there could create them first.
  - A symbolic link on the way is followed only when the link is owned by root or a trusted user; its target
    is checked the same way.
  - With O(create), missing components are created one at a time with mode O(mode) (the umask does not apply),
    and only below components that passed the check.
  - An unsafe directory fails the task with a message naming the host, the path, its owner and mode, and the fix,
    unless O(fail_on_unsafe=false), which only reports it (for preflight tables).
options:
  path:
    description: Absolute path of the directory.
    type: path
    required: true
  create:
    description: Create the missing components of O(path).
    type: bool
    default: false
  mode:
    description: Mode of the directories created (octal string). Must not be writable by group or others.
    type: str
    default: "0755"
  trusted_owners:
    description:
      - Users (names or numeric ids) besides root and the user the module runs as whose directories are trusted,
        for example the connecting user when the module runs with C(become).
      - A name that does not exist on the host is an error.
    type: list
    elements: str
    default: []
  fail_on_unsafe:
    description: Fail when a problem is found; with C(false) the problems are only returned.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: In check mode nothing is created; missing components are returned in RV(missing).
notes:
  - Runs with the host's own Python 3.9+; no third-party packages.
  - Checks are made on the host's view at the time of the task. A directory the collection created stays safe
    because only root and its owner can change it afterwards.
seealso:
  - module: mlperf.storage.dir_probe
extends_documentation_fragment:
  - mlperf.storage.common
"""

EXAMPLES = r"""
- name: Create the work directory, refusing one that another user owns or can write
  mlperf.storage.safe_dir:
    path: "{{ mlperf_work_dir }}"
    create: true

- name: As root, trust the connecting user's directories too
  mlperf.storage.safe_dir:
    path: /var/tmp/mlperf-storage/work/telemetry/run_1
    create: true
    trusted_owners: [bench]
  become: true

- name: Only report, for a preflight table
  mlperf.storage.safe_dir:
    path: /opt/mlperf-storage/venv
    fail_on_unsafe: false
  register: venv_dir
"""

RETURN = r"""
path:
  description: The path checked.
  returned: always
  type: str
  sample: /var/tmp/mlperf-storage/work
real_path:
  description: The path with symbolic links resolved, null when it does not exist.
  returned: always
  type: str
  sample: /var/tmp/mlperf-storage/work
safe:
  description: True when no existing component has a problem.
  returned: always
  type: bool
  sample: true
created:
  description: Directories created by this task, outermost first.
  returned: always
  type: list
  elements: str
  sample: [/var/tmp/mlperf-storage, /var/tmp/mlperf-storage/work]
missing:
  description: The missing part of the path, when it was not created (O(create=false) or check mode).
  returned: always
  type: list
  elements: str
  sample: []
problems:
  description: One entry per component that fails the check, with the owner, mode and fix.
  returned: always
  type: list
  elements: dict
  sample:
    - path: /var/tmp/mlperf-storage
      owner: alice
      uid: 1001
      mode: "0777"
      leaf: false
      problem: is owned by alice, not by root or bench and is writable by others without the sticky bit (mode 0777)
      fix: use a directory whose parents only root or bench can write ...
uid:
  description: The user id the module ran as.
  returned: always
  type: int
  sample: 1000
user:
  description: The name of the user the module ran as (pass it to O(trusted_owners) of a later C(become) task).
  returned: always
  type: str
  sample: bench
msg:
  description: What was found, in one sentence; for an unsafe directory, the refusal with host, path, owner, mode and fix.
  returned: always
  type: str
"""

import os
import stat

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mlperf.storage.plugins.module_utils._safe_dir import (
    check_dir,
    creation_failure,
    explain,
    resolve_uids,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            create=dict(type="bool", default=False),
            mode=dict(type="str", default="0755"),
            trusted_owners=dict(type="list", elements="str", default=[]),
            fail_on_unsafe=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = params["path"]
    empty = dict(path=path, real_path=None, safe=False, created=[], missing=[], problems=[], uid=os.geteuid(),
                 user="")
    if not os.path.isabs(path):
        module.fail_json(msg="safe_dir: path must be absolute (got %s)" % path, **empty)
    try:
        mode = int(str(params["mode"]), 8)
    except ValueError:
        module.fail_json(msg="safe_dir: mode must be an octal string such as 0755 (got %s)" % params["mode"], **empty)
    if mode & (stat.S_IWGRP | stat.S_IWOTH) or mode & ~0o7777:
        module.fail_json(msg="safe_dir: mode %s would let the group or others write the directory; use 0755 or "
                             "0700" % params["mode"], **empty)
    trusted, unknown = resolve_uids(params["trusted_owners"])
    if unknown:
        module.fail_json(msg="safe_dir: trusted_owners names users that do not exist on this host: %s"
                             % ", ".join(unknown), **empty)
    try:
        result = check_dir(path, create=params["create"] and not module.check_mode, mode=mode, trusted_uids=trusted)
    except OSError as exc:
        module.fail_json(msg="safe_dir: cannot create or check %s: %s. Create it as a user allowed to (owned by "
                             "root or by the user running the benchmark, mode 0755) or choose another directory"
                             % (exc.filename or path, exc.strerror or exc), **empty)
    changed = bool(result["created"]) or (params["create"] and module.check_mode and bool(result["missing"]))
    if not result["safe"]:
        message = explain(result)
        if params["fail_on_unsafe"]:
            module.fail_json(msg=message, changed=changed, **result)
        module.exit_json(msg=message, changed=changed, **result)
    if params["create"] and not module.check_mode and result["missing"]:
        module.fail_json(msg="safe_dir: %s" % creation_failure(result), changed=changed, **result)
    if result["missing"]:
        message = "%s does not exist yet; its existing parents are safe" % path
    else:
        message = "%s is safe" % path
    module.exit_json(msg=message, changed=changed, **result)


if __name__ == "__main__":
    main()
