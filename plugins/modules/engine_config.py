#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: engine_config
short_description: Write the engine's configuration files on a host
version_added: "0.4.0"
description:
  - Writes each of O(files) below O(dir), creating the directories it needs, in one task. A file whose content is
    already the same is left as it is; a changed one is replaced atomically (a rank that reads it meanwhile sees
    the old file or the new one).
  - Every host that runs ranks needs the files at the same path, because every rank of DLIO composes its own
    configuration (Hydra's C(--config-dir)); a scratch directory local to each host is the usual case on a
    cluster.
  - Writes only the files it is given; nothing else in O(dir) is touched or removed.
extends_documentation_fragment:
  - mlperf.storage.common
options:
  dir:
    description: The configuration directory (the plan's C(config_dir)); created if missing.
    type: path
    required: true
  files:
    description: File name relative to O(dir) (it may name a subdirectory, never leave O(dir)) to the file's text.
    type: dict
    required: true
  mode:
    description: Permissions of the files written.
    type: str
    default: "0644"
attributes:
  check_mode:
    support: full
    details: In check mode nothing is written; C(changed) says whether a file would be.
"""

EXAMPLES = r"""
- name: Write the DLIO workload definitions on every client
  mlperf.storage.engine_config:
    dir: /var/tmp/mlperf-storage/work/dlio_workloads
    files:
      workload/unet3d_b200.yaml: "{{ workload | to_nice_yaml(indent=2) }}"
"""

RETURN = r"""
written:
  description: The files written (or that would be, in check mode), as absolute paths.
  returned: always
  type: list
  elements: str
paths:
  description: Every file of O(files), as absolute paths.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mlperf.storage.plugins.module_utils._engine import write_text_atomic


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type="path", required=True),
            files=dict(type="dict", required=True),
            mode=dict(type="str", default="0644"),
        ),
        supports_check_mode=True,
    )
    base = os.path.abspath(module.params["dir"])
    try:
        mode = int(module.params["mode"], 8)
    except ValueError:
        module.fail_json(msg="mode %r is not an octal permission such as 0644" % module.params["mode"])
    paths, written = [], []
    for name in sorted(module.params["files"]):
        path = os.path.abspath(os.path.join(base, name))
        if os.path.isabs(name) or not path.startswith(base + os.sep):
            module.fail_json(msg="files: %r is not a file name inside %s" % (name, base))
        paths.append(path)
        text = module.params["files"][name]
        if not isinstance(text, str):
            module.fail_json(msg="files: the content of %r is a %s; give the file's text" % (name, type(text).__name__))
        try:
            with open(path) as handle:
                same = handle.read() == text and (os.stat(path).st_mode & 0o7777) == mode
        except (OSError, UnicodeDecodeError):
            same = False
        if same:
            continue
        written.append(path)
        if module.check_mode:
            continue
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_text_atomic(path, text, mode)
        except OSError as exc:
            module.fail_json(msg="cannot write %s: %s" % (path, exc), written=written[:-1], paths=paths)
    module.exit_json(changed=bool(written), written=written, paths=paths)


if __name__ == "__main__":
    main()
