#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: checksums
short_description: Write the checksum manifest of a run directory
version_added: "0.1.0"
description:
  - Writes C(CHECKSUMS.sha256) (C(sha256sum) format, paths relative to the run directory) covering every file
    of the run directory, so that the collected copy can be verified later (C(mlperf.storage.verify) does).
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.check_mode_none
options:
  path:
    description: The run directory.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Seal the run directory
  mlperf.storage.checksums:
    path: /results/closed/org/results/sys/training/unet3d/run/20261123_101500
"""

RETURN = r"""
files:
  description: Number of files listed.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mlperf.storage.plugins.module_utils import _results


def main():
    module = AnsibleModule(argument_spec=dict(path=dict(type="path", required=True)), supports_check_mode=False)
    try:
        count = _results.write_checksums(module.params["path"])
    except OSError as exc:
        module.fail_json(msg="cannot write checksums in %s: %s" % (module.params["path"], exc))
    module.exit_json(changed=True, files=count)


if __name__ == "__main__":
    main()
