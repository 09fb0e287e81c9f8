#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: run_seal
short_description: Write a run directory's last records and seal it, in one call
version_added: "0.2.0"
description:
  - The end of every engine invocation in C(run_phase), one round trip instead of three. In order, each step
    attempted whatever the previous one did, so a full filesystem still leaves as much as can be written.
  - Writes C(fs_separation.json) (whether the storage under test and the results share a filesystem, as
    M(mlperf.storage.fs_separation) does).
  - Writes the run's metadata file from O(metadata) (built on the controller by the
    C(mlperf.storage.run_metadata) filter).
  - Seals the directory with C(CHECKSUMS.sha256) over every file in it (as M(mlperf.storage.checksums) does);
    nothing is added to a sealed directory.
  - Never fails the task for a step that could not be written; each step's outcome is returned, and the
    caller decides (a missing record or seal is reported by the verifier).
options:
  run_dir:
    description: The run directory (made by M(mlperf.storage.run_dir)).
    type: path
    required: true
  metadata:
    description: The run's metadata.
    type: dict
    required: true
  metadata_file:
    description: The metadata file's name in O(run_dir) (C(<benchmark>_<timestamp>_metadata.json)).
    type: str
    required: true
  data_path:
    description: The storage under test (for C(fs_separation.json)).
    type: path
    required: true
  results_path:
    description: The results directory (for C(fs_separation.json)).
    type: path
    required: true
attributes:
  check_mode:
    support: none
    details: A run directory is sealed only for real.
extends_documentation_fragment:
  - mlperf.storage.common
"""

EXAMPLES = r"""
- name: Record, write the metadata and seal
  mlperf.storage.run_seal:
    run_dir: "{{ leaf.path }}"
    metadata: "{{ plan | mlperf.storage.run_metadata('run', leaf.path, leaf.timestamp) }}"
    metadata_file: "training_{{ leaf.timestamp }}_metadata.json"
    data_path: /mnt/storage/data
    results_path: /shared/results
  register: seal
"""

RETURN = r"""
fs_separation:
  description: C(path) written (null if not), C(same_filesystem), C(failed) and C(msg).
  returned: always
  type: dict
metadata:
  description: C(path), C(failed) and C(msg) of the metadata file.
  returned: always
  type: dict
checksums:
  description: C(files) sealed, C(failed) and C(msg).
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mlperf.storage.plugins.module_utils import _fs_separation as fs_core
from ansible_collections.mlperf.storage.plugins.module_utils import _results
from ansible_collections.mlperf.storage.plugins.module_utils._engine import write_json_atomic


def _step(function):
    """Run one step; (value, {"failed", "msg"}) with the OS error as the message when it failed."""
    try:
        return function(), {"failed": False, "msg": ""}
    except (IOError, OSError) as exc:
        return None, {"failed": True, "msg": "%s: %s" % (exc.filename or "", exc.strerror or exc)}
    except fs_core.FsSeparationError as exc:
        return None, {"failed": True, "msg": str(exc)}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            run_dir=dict(type="path", required=True),
            metadata=dict(type="dict", required=True),
            metadata_file=dict(type="str", required=True),
            data_path=dict(type="path", required=True),
            results_path=dict(type="path", required=True),
        ),
        supports_check_mode=False,
    )
    params = module.params
    run_dir = params["run_dir"]
    name = params["metadata_file"]
    if not os.path.isdir(run_dir):
        module.fail_json(msg="run_seal: run directory %s does not exist" % run_dir)
    if os.path.basename(name) != name or not name.endswith("_metadata.json"):
        module.fail_json(msg="run_seal: metadata_file must be a file name ending in _metadata.json (got %s)" % name)

    record = fs_core.build_record(params["data_path"], params["results_path"], fs_core.read_mountinfo())
    written, fs_state = _step(lambda: fs_core.write_record(run_dir, record)[0])
    fs_state.update(path=written, same_filesystem=record["same_filesystem"])
    if record.get("error"):
        module.warn("filesystem separation not decided (%s): the rules engine will report this run INVALID"
                    % record["error"])

    metadata_path = os.path.join(run_dir, name)

    def write_metadata():
        write_json_atomic(metadata_path, params["metadata"])
        os.chmod(metadata_path, 0o644)
        return metadata_path
    written, meta_state = _step(write_metadata)
    meta_state["path"] = written

    count, sums_state = _step(lambda: _results.write_checksums(run_dir))
    sums_state["files"] = count
    module.exit_json(changed=True, fs_separation=fs_state, metadata=meta_state, checksums=sums_state)


if __name__ == "__main__":
    main()
