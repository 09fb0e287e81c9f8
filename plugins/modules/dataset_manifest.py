#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: dataset_manifest
short_description: Prove that an existing dataset matches the plan, say who made it, or record one being generated
version_added: "0.1.0"
description:
  - With O(state=check), reads C(<data_folder>/.mlperf-dataset.json) and compares its generation settings with
    O(spec), then counts the files and bytes under C(<data_folder>/train) and compares them with O(train_files)
    and the manifest. Data generation is skipped only when everything matches.
  - O(state=check) also says who made what is in the folder (RV(ownership)) and what may be done with it
    (RV(action)). A folder holding files but no manifest of this collection is C(foreign); its action is
    C(refuse) unless O(replace_foreign) is set. The module itself never removes anything.
  - With O(state=claim), writes a manifest in state C(generating) before data generation starts, so that an
    interrupted generation is still recognised as this collection's own data.
  - With O(state=present), counts the generated files and writes the complete manifest.
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.check_mode_full
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
    description: C(check) compares; C(claim) marks the folder before generation; C(present) writes the manifest.
    type: str
    choices: [check, claim, present]
    default: check
  replace_foreign:
    description:
      - With O(state=check), whether files this collection did not generate may be replaced (the operator's
        explicit opt-in). Only changes RV(action) from C(refuse) to C(replace).
    type: bool
    default: false
  generated_by:
    description: Run directory of the data generation, recorded in the manifest.
    type: str
"""

EXAMPLES = r"""
- name: Does the dataset already match?
  mlperf.storage.dataset_manifest:
    data_folder: /mnt/storage/data/unet3d
    spec: "{{ plan.dataset_manifest }}"
    train_files: 28000
  register: dataset

- name: Mark the folder as this collection's before generating into it
  mlperf.storage.dataset_manifest:
    data_folder: /mnt/storage/data/unet3d
    spec: "{{ plan.dataset_manifest }}"
    state: claim
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
ownership:
  description: C(none) (no files), C(ours) (a manifest of this collection) or C(foreign) (files, no manifest of ours).
  returned: state=check
  type: str
action:
  description:
    - C(reuse) (the dataset matches), C(generate) (nothing there, or this collection's own data to regenerate),
      C(replace) (foreign files, O(replace_foreign) set) or C(refuse) (foreign files, no opt-in).
  returned: state=check
  type: str
found:
  description: What the folder holds besides the manifest (path, exists, files, bytes, sample of relative paths).
  returned: state=check
  type: dict
manifest:
  description: The manifest written.
  returned: state=claim or state=present
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mlperf.storage.plugins.module_utils import _dataset


def main():
    module = AnsibleModule(
        argument_spec=dict(
            data_folder=dict(type="path", required=True),
            spec=dict(type="dict", required=True),
            train_files=dict(type="int"),
            state=dict(type="str", choices=["check", "claim", "present"], default="check"),
            generated_by=dict(type="str"),
            replace_foreign=dict(type="bool", default=False),
        ),
        required_if=[("state", "check", ("train_files",))],
        supports_check_mode=True,
    )
    p = module.params
    if p["state"] == "check":
        found = _dataset.inspect_folder(p["data_folder"])
        matches, reason, observed = _dataset.check_dataset(p["data_folder"], p["spec"], p["train_files"], found)
        if matches:
            action = "reuse"
        else:
            action, why = _dataset.decide(found, p["replace_foreign"])
            reason = "%s; %s" % (reason, why) if action != "generate" or found["ownership"] != "none" else reason
        found = dict((k, v) for k, v in found.items() if k != "manifest")
        module.exit_json(changed=False, matches=matches, reason=reason, observed=observed,
                         ownership=found["ownership"], action=action, found=found)
    if module.check_mode:
        module.exit_json(changed=True, reason="would write the manifest", observed={})
    try:
        if p["state"] == "claim":
            manifest = _dataset.claim(p["data_folder"], p["spec"])
            module.exit_json(changed=True, manifest=manifest, reason="folder claimed for data generation",
                             observed={})
        manifest = _dataset.write_manifest(p["data_folder"], p["spec"], p["generated_by"])
    except OSError as exc:
        module.fail_json(msg="cannot write the dataset manifest in %s: %s" % (p["data_folder"], exc))
    module.exit_json(changed=True, manifest=manifest, reason="manifest written",
                     observed={"train_files": manifest["train_files"], "train_bytes": manifest["train_bytes"]})


if __name__ == "__main__":
    main()
