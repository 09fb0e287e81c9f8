#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: dir_probe
short_description: Check benchmark directories on a host (exists, writable, filesystem, free space)
version_added: "0.1.0"
description:
  - For each named directory, reports whether it exists, is a directory, is writable (proved by creating and
    removing a probe file, not by permission bits alone), its filesystem type and mount point, its device id
    and the free and total bytes of its filesystem.
  - Optionally writes or reads a sentinel file, so a launcher can prove that a directory is one shared
    filesystem across hosts (each host writes its own sentinel; the launcher reads them all).
  - Problems are reported in the result, not as failures, so a preflight can collect every host's problems.
options:
  paths:
    description: Directories to probe, by name (for example C(data_dir), C(results_dir)).
    type: dict
    required: true
  owner_checks:
    description:
      - Names in O(paths) whose directory and parents are also checked as M(mlperf.storage.safe_dir) checks them
        (owned by root or the user the module runs as, not writable by others); the finding is the entry's
        C(owner). Saves a task per host in a preflight.
    type: list
    elements: str
    default: []
  write_sentinel:
    description:
      - Write C(.mlperf-sentinel-<sentinel_id>) holding O(sentinel_token) into each directory that is writable.
      - Not done in check mode.
    type: bool
    default: false
  sentinel_names:
    description:
      - Names in O(paths) that get the sentinel of O(write_sentinel); empty means every name.
      - Give only the directories whose sharing is checked, so no sentinel is left in the others.
    type: list
    elements: str
    default: []
  read_sentinels:
    description: Sentinel ids whose files to read back from each directory (returns the tokens found).
    type: list
    elements: str
    default: []
  remove_sentinels:
    description: Remove the sentinel files named by O(read_sentinels) after reading them (not in check mode).
    type: bool
    default: false
  sentinel_id:
    description: Id of this host's sentinel.
    type: str
  sentinel_token:
    description: Content of this host's sentinel.
    type: str
attributes:
  check_mode:
    support: full
    details: The writability probe creates and removes a temporary file even in check mode; it leaves no trace.
extends_documentation_fragment:
  - mlperf.storage.common
"""

EXAMPLES = r"""
- name: Probe the data and results directories
  mlperf.storage.dir_probe:
    paths:
      data_dir: /mnt/storage/data
      results_dir: /shared/results
  register: probe
"""

RETURN = r"""
dirs:
  description:
    - One entry per name in O(paths).
    - An entry named in O(owner_checks) also has C(owner) - C(safe), C(problems) (as M(mlperf.storage.safe_dir)
      returns them) and C(msg) (every problem with its fix; empty when safe).
  returned: always
  type: dict
  sample:
    data_dir:
      path: /mnt/storage/data
      exists: true
      is_dir: true
      writable: true
      error: null
      fstype: xfs
      mount_point: /mnt/storage
      device: 2049
      free_bytes: 1099511627776
      total_bytes: 2199023255552
      sentinels: {}
changed:
  description: True when a sentinel was written or removed.
  returned: always
  type: bool
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mlperf.storage.plugins.module_utils._safe_dir import owner_finding


def mount_of(path, mounts_text):
    """Longest mount point containing path, from /proc/self/mounts text -> (mount point, fstype)."""
    best = ("/", None)
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best[0]):
            best = (point, fields[2])
    return best


def probe_dir(path, mounts_text):
    info = {"path": path, "exists": os.path.exists(path), "is_dir": os.path.isdir(path), "writable": False,
            "error": None, "fstype": None, "mount_point": None, "device": None,
            "free_bytes": None, "total_bytes": None, "sentinels": {}}
    if not info["exists"]:
        info["error"] = "does not exist"
        return info
    if not info["is_dir"]:
        info["error"] = "is not a directory"
        return info
    real = os.path.realpath(path)
    info["mount_point"], info["fstype"] = mount_of(real, mounts_text)
    try:
        st = os.stat(real)
        vfs = os.statvfs(real)
        info["device"] = st.st_dev
        info["free_bytes"] = vfs.f_bavail * vfs.f_frsize
        info["total_bytes"] = vfs.f_blocks * vfs.f_frsize
    except OSError as exc:
        info["error"] = "cannot stat: %s" % exc
        return info
    try:
        handle, name = tempfile.mkstemp(prefix=".mlperf-probe-", dir=real)
        os.close(handle)
        os.unlink(name)
        info["writable"] = True
    except OSError as exc:
        info["error"] = "not writable: %s" % exc.strerror
    return info


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="dict", required=True),
            write_sentinel=dict(type="bool", default=False),
            read_sentinels=dict(type="list", elements="str", default=[]),
            remove_sentinels=dict(type="bool", default=False),
            sentinel_names=dict(type="list", elements="str", default=[]),
            sentinel_id=dict(type="str"),
            sentinel_token=dict(type="str", no_log=False),
            owner_checks=dict(type="list", elements="str", default=[]),
        ),
        required_if=[("write_sentinel", True, ("sentinel_id", "sentinel_token"))],
        supports_check_mode=True,
    )
    try:
        with open("/proc/self/mounts") as handle:
            mounts_text = handle.read()
    except OSError:
        mounts_text = ""
    changed = False
    dirs = {}
    for name, path in module.params["paths"].items():
        info = probe_dir(os.path.abspath(str(path)), mounts_text)
        wanted = not module.params["sentinel_names"] or name in module.params["sentinel_names"]
        if module.params["write_sentinel"] and wanted and info["writable"] and not module.check_mode:
            target = os.path.join(info["path"], ".mlperf-sentinel-%s" % module.params["sentinel_id"])
            with open(target, "w") as handle:
                handle.write(module.params["sentinel_token"])
                handle.flush()
                os.fsync(handle.fileno())
            changed = True
        for sid in module.params["read_sentinels"]:
            target = os.path.join(info["path"], ".mlperf-sentinel-%s" % sid)
            try:
                with open(target) as handle:
                    info["sentinels"][sid] = handle.read()
            except OSError:
                info["sentinels"][sid] = None
            if module.params["remove_sentinels"] and not module.check_mode and info["sentinels"][sid] is not None:
                os.unlink(target)
                changed = True
        if name in module.params["owner_checks"]:
            info["owner"] = owner_finding(info["path"])
        dirs[name] = info
    module.exit_json(changed=changed, dirs=dirs)


if __name__ == "__main__":
    main()
