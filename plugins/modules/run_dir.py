#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: run_dir
short_description: Reserve a new timestamped run directory
version_added: "0.1.0"
description:
  - Creates C(<base>/<YYYYMMDD_HHMMSS>) with one atomic C(mkdir). If that directory already exists the module
    fails and touches nothing, so a run never writes into, or overwrites, an earlier run.
  - Also makes the run's identity (C(run_id)), the timestamp and 64 random bits. Every process of the run
    carries it (M(mlperf.storage.engine_run)), and cleanup acts only on processes that carry it.
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.check_mode_none
options:
  base:
    description: Parent directory (created if missing).
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Reserve the run directory
  mlperf.storage.run_dir:
    base: /results/closed/org/results/sys/training/unet3d/run
  register: run
"""

RETURN = r"""
path:
  description: The new run directory.
  returned: success
  type: str
  sample: /results/closed/org/results/sys/training/unet3d/run/20261123_101500
timestamp:
  description: Its name, the run's timestamp.
  returned: success
  type: str
  sample: 20261123_101500
run_id:
  description: The run's identity, unique across runs, playbooks and controllers.
  returned: success
  type: str
  sample: 20261123_101500-3f9c0a7d5e21b846
"""

import secrets

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mlperf.storage.plugins.module_utils import _results


def main():
    module = AnsibleModule(argument_spec=dict(base=dict(type="path", required=True)), supports_check_mode=False)
    try:
        path, stamp = _results.reserve_run_dir(module.params["base"])
    except _results.ResultsError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=True, path=path, timestamp=stamp, run_id="%s-%s" % (stamp, secrets.token_hex(8)))


if __name__ == "__main__":
    main()
