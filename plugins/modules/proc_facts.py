#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: proc_facts
short_description: Snapshot of a host's /proc state (memory, CPU, disks, mounts, cgroups, kernel)
version_added: "0.1.0"
description:
  - Reads C(/proc), C(/sys) and C(/etc/os-release) and returns one structured snapshot as the fact
    C(mlperf_proc), to record what a benchmark client looked like before and after a phase.
  - Includes meminfo, CPU model/sockets/cores/threads with a digest of the CPU flags, load average,
    CPU times, disk and network counters, vmstat, mounts, cgroup version and limits, kernel
    release and command line, os-release and uptime.
  - For each entry of O(paths), reports the mount holding it, its filesystem type and the queue
    settings (scheduler, read-ahead, rotational) of the block device behind it, including the
    members of md/dm devices.
  - A file that cannot be read leaves its section out of the snapshot and adds one warning; a
    truncated file loses only its incomplete last line. The module never fails on /proc content.
  - With O(dest), also writes the snapshot as JSON to a file on the host.
options:
  paths:
    description:
      - "Named paths to describe, such as the data and results directories
        (C({data_dir: /mnt/data, results_dir: /mnt/results}))."
    type: dict
    default: {}
  label:
    description: Label stored in the snapshot, such as C(start) or C(end).
    type: str
  dest:
    description:
      - Also write the snapshot as JSON to this file (its directory must exist).
      - The task then reports C(changed) because a file was written; without O(dest) it never does.
    type: path
  mode:
    description: Permissions of O(dest) when it is written.
    type: raw
    default: "0644"
attributes:
  check_mode:
    support: full
    details: In check mode the snapshot is taken and returned but O(dest) is not written; the result
      reports C(changed) when O(dest) would be written.
notes:
  - Runs with the host's own Python 3.9+ and reads only; no third-party packages.
  - Cgroup limits are those of the module's own process, which normally shares the cgroup of
    the processes the play starts on that host.
seealso:
  - module: mlperf.storage.proc_sampler
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.facts
"""

EXAMPLES = r"""
- name: Snapshot every client before the run
  mlperf.storage.proc_facts:
    label: start
    paths:
      data_dir: /mnt/data
      results_dir: /mnt/results

- name: Show the filesystem under the data directory
  ansible.builtin.debug:
    msg: "{{ ansible_facts.mlperf_proc.paths.data_dir.fstype }}"

- name: Keep the end snapshot as a file on the host too
  mlperf.storage.proc_facts:
    label: end
    dest: /var/tmp/mlperf/telemetry/run_1/run_1_snapshot_end.json
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    mlperf_proc:
      description:
        - The snapshot. Sections whose source file could not be read are absent.
        - Memory values are bytes; CPU times are clock ticks; disk counters are raw
          C(/proc/diskstats) fields (sectors are 512 bytes).
      returned: always
      type: dict
      contains:
        schema:
          description: Format identifier.
          type: str
          sample: mlperf-proc-snapshot/1
        label:
          description: The O(label) given.
          type: str
          sample: start
        hostname:
          description: Kernel host name.
          type: str
          sample: client-01
        collected_at:
          description: UTC time of the snapshot.
          type: str
          sample: "2026-11-23T10:15:00.123Z"
        collected_epoch:
          description: Time of the snapshot in seconds since the epoch.
          type: float
          sample: 1795428900.123
        meminfo:
          description: C(/proc/meminfo) in bytes (kB fields converted), counts unchanged.
          type: dict
          sample: {"MemTotal": 270174396416, "MemAvailable": 256000000000, "Dirty": 126418944}
        cpuinfo:
          description: CPU model, vendor, sockets, physical cores, threads, flag count and digest.
          type: dict
          sample: {"model": "Intel(R) Xeon(R) Gold 6448Y", "sockets": 2, "cores": 8, "threads": 16,
                   "flags_count": 18, "flags_digest": "0526d31727296ac0"}
        loadavg:
          description: Load averages and scheduling entities.
          type: dict
          sample: {"load1": 12.5, "load5": 11.97, "load15": 9.03, "running": 17, "total": 2211}
        stat:
          description: Aggregate CPU times, CPU count, context switches, boot time.
          type: dict
        diskstats:
          description: Counters per block device, keyed by device name.
          type: dict
        vmstat:
          description: C(/proc/vmstat) counters.
          type: dict
        net_dev:
          description: Counters per network interface.
          type: dict
        uptime:
          description: Seconds since boot and aggregate idle seconds.
          type: dict
        mounts:
          description: Every mount with device, mountpoint, filesystem type and options.
          type: list
          elements: dict
        paths:
          description:
            - Per O(paths) entry - the resolved path, whether it exists, its mount, filesystem
              type, and C(block_device) (name, scheduler, read_ahead_kb, rotational, slaves...)
              or null for network and memory filesystems.
          type: dict
          sample: {"data_dir": {"path": "/mnt/data", "fstype": "xfs", "mountpoint": "/mnt/data",
                   "block_device": {"name": "md0", "scheduler": "none", "read_ahead_kb": 8192,
                                    "rotational": false}}}
        cgroup:
          description: Cgroup version (v1, v2, hybrid), paths and limits (memory bytes, CPUs; null = none).
          type: dict
          sample: {"version": "v2", "unified_path": "/system.slice/bench.service",
                   "limits": {"memory_bytes": 68719476736, "cpus": 8.0}}
        kernel:
          description: Kernel release, full version string and boot command line.
          type: dict
        os_release:
          description: C(/etc/os-release) keys.
          type: dict
          sample: {"ID": "rocky", "VERSION_ID": "9.4", "PRETTY_NAME": "Rocky Linux 9.4 (Blue Onyx)"}
        warnings:
          description: Files that could not be read or looked truncated.
          type: list
          elements: str
dest:
  description: The file written, when O(dest) was given.
  returned: when O(dest) is set
  type: str
  sample: /var/tmp/mlperf/telemetry/run_1/run_1_snapshot_end.json
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mlperf.storage.plugins.module_utils._procfs import ProcReader, collect_snapshot


def write_json_atomically(module, dest, data):
    directory = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(directory):
        module.fail_json(msg="proc_facts: directory %s for dest does not exist; create it first" % directory)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".proc_facts.", dir=directory)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.write("\n")
        os.rename(tmp, dest)
    except (IOError, OSError) as exc:
        module.fail_json(msg="proc_facts: cannot write %s: %s" % (dest, exc.strerror or exc))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="dict", default={}),
            label=dict(type="str"),
            dest=dict(type="path"),
            mode=dict(type="raw", default="0644"),
        ),
        supports_check_mode=True,
    )
    paths = module.params["paths"] or {}
    bad = sorted(name for name, value in paths.items() if not isinstance(value, str) or not value)
    if bad:
        module.fail_json(msg="proc_facts: paths must map names to path strings; fix the entries %s"
                             % ", ".join(bad))
    reader = ProcReader("/")
    snapshot = collect_snapshot(reader, paths=dict((k, os.path.expanduser(v)) for k, v in paths.items()),
                                label=module.params["label"])
    for warning in snapshot["warnings"]:
        module.warn(warning)

    result = {"changed": False, "ansible_facts": {"mlperf_proc": snapshot}}
    dest = module.params["dest"]
    if dest:
        result["dest"] = dest
        result["changed"] = True
        if not module.check_mode:
            write_json_atomically(module, dest, snapshot)
            file_args = module.load_file_common_arguments(dict(path=dest, mode=module.params["mode"]))
            module.set_fs_attributes_if_different(file_args, False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
