#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: fs_separation
short_description: Record whether the storage under test and the results directory share a filesystem
version_added: "0.1.0"
description:
  - Stats O(data_path) and O(results_path) on the host (normally the launcher), finds the mount point,
    filesystem type and mount source of each in C(/proc/self/mountinfo), and writes
    C(<run_dir>/fs_separation.json), the record the rules engine reads for rules 3.4.2 (training), 4.4.2
    (checkpointing) and 5.4.2 (vector database). C(same_filesystem) true makes the run INVALID.
  - Two directories are on the same filesystem when their device numbers (C(st_dev)) are equal, or when both
    are mounted from the same block device (subvolumes of one btrfs filesystem).
  - The file is written atomically (a temporary file in the run directory, fsync, rename), mode 0644. One
    writer for every benchmark; it must run before the run directory is sealed (M(mlperf.storage.checksums)),
    and the module refuses to add the file to a run directory that already holds C(CHECKSUMS.sha256).
  - A directory that cannot be stat'ed does not fail the task; the record then holds C(same_filesystem) null
    and the reason in C(error), which the rules engine reports as INVALID (no verdict), and the module
    returns a warning. The task fails only when the record cannot be written.
  - An existing record that differs only in C(probed_at) and C(probed_by_host) is left as it is (changed false).
options:
  data_path:
    description:
      - The storage under test - the data directory (training, vector database storage root), the checkpoint
        folder (checkpointing) or the KV-cache directory.
    type: path
    required: true
  results_path:
    description: The results directory (the root the run directories are made under).
    type: path
    required: true
  run_dir:
    description: The run directory that gets C(fs_separation.json).
    type: path
    required: true
attributes:
  check_mode:
    support: full
    details:
      - Probes and returns the record and whether it would be written; writes nothing.
      - A run directory that does not exist yet (its task does not run in check mode) is reported as changed.
extends_documentation_fragment:
  - mlperf.storage.common
"""

EXAMPLES = r"""
- name: Record whether the data and the results share a filesystem (before the checksums)
  mlperf.storage.fs_separation:
    data_path: /mnt/storage/data
    results_path: /shared/results
    run_dir: /shared/results/closed/org/results/sys/training/unet3d/run/20261123_101500
  delegate_to: "{{ mlperf_launcher_host }}"
  run_once: true
  register: fs_sep
"""

RETURN = r"""
path:
  description: The file written (or that would be written in check mode).
  returned: always
  type: str
  sample: /shared/results/closed/org/results/sys/training/unet3d/run/20261123_101500/fs_separation.json
same_filesystem:
  description: True when the two directories share a filesystem (an INVALID run), null when either could not be probed.
  returned: always
  type: bool
  sample: false
fs_separation:
  description: The record, as written to the file.
  returned: always
  type: dict
  sample:
    version: 1
    method: st_dev
    data_or_chkpt_path: /mnt/storage/data
    results_path: /shared/results
    data_or_chkpt_realpath: /mnt/storage/data
    results_realpath: /shared/results
    same_filesystem: false
    reason: different device numbers (st_dev 66306 and 2049)
    data_device: 66306
    results_device: 2049
    data_mount_point: /mnt/storage
    results_mount_point: /shared
    data_fstype: xfs
    results_fstype: nfs4
    data_mount_source: /dev/nvme1n1
    results_mount_source: "fileserver:/export/results"
    probed_at: "2026-11-23T10:15:00Z"
    probed_by_host: client-1
changed:
  description: True when the file was written (would be, in check mode).
  returned: always
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mlperf.storage.plugins.module_utils import _fs_separation as core


def main():
    module = AnsibleModule(
        argument_spec=dict(
            data_path=dict(type="path", required=True),
            results_path=dict(type="path", required=True),
            run_dir=dict(type="path", required=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    record = core.build_record(params["data_path"], params["results_path"], core.read_mountinfo())
    result = dict(changed=False, same_filesystem=record["same_filesystem"], fs_separation=record, path=None)
    try:
        if module.check_mode and not os.path.isdir(params["run_dir"]):
            # a run directory is made by a task that does not run in check mode: report what would be written
            result.update(path=os.path.join(params["run_dir"], core.FILE_NAME), changed=True,
                          msg="run directory %s does not exist (yet); the record would be written there"
                          % params["run_dir"])
        elif module.check_mode:
            result["path"], result["changed"] = core.plan_write(params["run_dir"], record)
        else:
            result["path"], result["changed"] = core.write_record(params["run_dir"], record)
    except core.FsSeparationError as exc:
        module.fail_json(msg=str(exc), **result)
    if record.get("error"):
        module.warn("filesystem separation not decided (%s): the rules engine will report this run INVALID"
                    % record["error"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
