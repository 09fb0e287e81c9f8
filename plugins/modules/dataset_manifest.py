#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: dataset_manifest
short_description: Prove that an existing dataset matches the plan, or record one that was just generated
version_added: "0.1.0"
description:
  - With O(state=check), reads C(<data_folder>/.mlperf-dataset.json) and compares its generation settings with
    O(spec), then counts the files and bytes under C(<data_folder>/train) and compares them with O(train_files)
    and the manifest. Data generation is skipped only when everything matches.
  - With O(state=present), counts the generated files and writes the manifest.
options:
  data_folder:
    description: The dataset folder (C(dataset.data_folder)).
    type: path
    required: true
  spec:
    description: The settings the dataset must have been generated with.
    type: dict
    required: true
  train_files:
    description: Number of training files the plan needs.
    type: int
  state:
    description: C(check) compares; C(present) writes the manifest.
    type: str
    choices: [check, present]
    default: check
  generated_by:
    description: Run directory of the data generation, recorded in the manifest.
    type: str
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - mlperf.storage contributors
"""

EXAMPLES = r"""
- name: Does the dataset already match?
  mlperf.storage.dataset_manifest:
    data_folder: /mnt/storage/data/unet3d
    spec: "{{ plan.dataset_manifest }}"
    train_files: 28000
  register: dataset
"""

RETURN = r"""
matches:
  description: True when the manifest's settings equal O(spec) and the files on disk match it.
  returned: state=check
  type: bool
reason:
  description: Why the dataset matches or not.
  returned: always
  type: str
observed:
  description: Files and bytes counted under C(train).
  returned: always
  type: dict
manifest:
  description: The manifest written.
  returned: state=present
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mlperf.storage.plugins.module_utils import _results


def main():
    module = AnsibleModule(
        argument_spec=dict(
            data_folder=dict(type="path", required=True),
            spec=dict(type="dict", required=True),
            train_files=dict(type="int"),
            state=dict(type="str", choices=["check", "present"], default="check"),
            generated_by=dict(type="str"),
        ),
        required_if=[("state", "check", ("train_files",))],
        supports_check_mode=True,
    )
    p = module.params
    if p["state"] == "check":
        matches, reason, observed = _results.check_dataset(p["data_folder"], p["spec"], p["train_files"])
        module.exit_json(changed=False, matches=matches, reason=reason, observed=observed)
    if module.check_mode:
        module.exit_json(changed=True, reason="would write the manifest", observed={})
    manifest = _results.write_manifest(p["data_folder"], p["spec"], p["generated_by"])
    module.exit_json(changed=True, manifest=manifest, reason="manifest written",
                     observed={"train_files": manifest["train_files"], "train_bytes": manifest["train_bytes"]})


if __name__ == "__main__":
    main()
