#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: telemetry_window
short_description: Open, close and clear one telemetry window on a host in a single call each
version_added: "0.2.0"
description:
  - The host side of the telemetry role's C(start) and C(stop) entry points, one task each instead of one
    per file, so that telemetry costs a few round trips per host and phase.
  - With O(state=opened) it removes the stop, pid and summary files an earlier window of the same label left,
    writes the phase label the sampler reads, takes the C(start) snapshot of the host and, with O(sampler),
    starts the window's sampler as a process of its own that outlives the task (the sampler of
    M(mlperf.storage.proc_sampler), without Ansible's async wrapper, so there is no async job to poll or forget).
  - With O(state=closed) it asks the sampler to stop (stop file), waits for the summary the sampler writes when
    it ends, terminates a sampler that does not react (only a process of this window, as
    M(mlperf.storage.proc_sampler) O(state=stopped) checks it), takes the C(end) snapshot and packs the series
    and both snapshots into one archive to fetch.
  - With O(state=absent) it removes the window's files from the host (after they reached the controller).
  - The files are C(<host_dir>/<label>.jsonl) (series), C(.stop), C(.phase), C(.pid), C(.summary.json),
    C(_snapshot_start.json), C(_snapshot_end.json) and C(.tgz) (the archive).
options:
  state:
    description: What to do with the window.
    type: str
    choices: [opened, closed, absent]
    required: true
  host_dir:
    description: The host's telemetry directory (checked and created beforehand by M(mlperf.storage.safe_dir), or
      by O(create_host_dir)).
    type: path
    required: true
  create_host_dir:
    description:
      - With O(state=opened), create O(host_dir) (mode 0755) and check it and its parents first, as
        M(mlperf.storage.safe_dir) does with O(mlperf.storage.safe_dir#module:create=true), so every component must be
        owned by root or the user the module runs as and not writable by others; nothing is created below one that
        is not, and the window fails naming each problem and its fix.
      - For a task without C(become). With C(become), check as the connecting user and create as root with
        M(mlperf.storage.safe_dir) instead, which can trust that user.
    type: bool
    default: false
  label:
    description: The window's label (letters, digits, '.', '_' and '-').
    type: str
    required: true
  phase:
    description: With O(state=opened), the phase label written for the sampler (default the label).
    type: str
  paths:
    description: Named directories whose filesystem the snapshots describe (as M(mlperf.storage.proc_facts)).
    type: dict
    default: {}
  token:
    description:
      - The token of the window's sampler. With O(state=opened) and O(sampler), the task's environment must
        carry it as C(MLPERF_SAMPLER_TOKEN) (the sampler inherits that environment, which is how O(state=closed)
        recognises the process before it signals it); with O(state=closed), the token it was started with.
    type: str
  sampler:
    description:
      - With O(state=opened), start the window's sampler with these settings (as M(mlperf.storage.proc_sampler)
        takes them); without it no sampler starts. Not started in check mode.
      - It samples into the window's series file until the stop file appears, O(sampler.max_duration) passes,
        O(sampler.deadline) is reached or O(sampler.watch_pid) exits, then writes the window's summary file.
    type: dict
    suboptions:
      interval:
        description: Seconds between samples (at least 0.1).
        type: float
        default: 1.0
      max_duration:
        description: Seconds after which the sampler ends by itself whatever happens (a playbook that was
          interrupted cannot leave it running).
        type: float
        default: 3600
      deadline:
        description: Epoch seconds at which the sampler ends by itself.
        type: float
      watch_pid:
        description: End when this process exits.
        type: int
      device_regex:
        description: Only sample block devices whose name matches (default every device except partitions and
          C(loop), C(ram), C(zram), C(fd), C(sr) devices).
        type: str
      interface_regex:
        description: Only sample network interfaces whose name matches (default every one).
        type: str
  start_wait:
    description: With O(state=closed), seconds to wait for a sampler that has not started yet.
    type: float
    default: 30
  stop_timeout:
    description: With O(state=closed), seconds to wait for the sampler to end after the stop file.
    type: float
    default: 30
attributes:
  check_mode:
    support: full
    details: Nothing is written or signalled in check mode; the snapshots are still taken and returned.
extends_documentation_fragment:
  - mlperf.storage.common
"""

EXAMPLES = r"""
- name: Open the window (stale files away, phase label, start snapshot) and start its sampler
  mlperf.storage.telemetry_window:
    state: opened
    host_dir: /var/tmp/mlperf-storage/work/telemetry/run_20261204_183000
    label: run_20261204_183000
    paths: {data_dir: /mnt/data}
    token: "{{ sampler_token }}"
    sampler: {interval: 1, max_duration: 7200}
  environment:
    MLPERF_SAMPLER_TOKEN: "{{ sampler_token }}"

- name: Close it and pack what to fetch
  mlperf.storage.telemetry_window:
    state: closed
    host_dir: /var/tmp/mlperf-storage/work/telemetry/run_20261204_183000
    label: run_20261204_183000
    token: "{{ sampler_token }}"
  register: window
"""

RETURN = r"""
files:
  description: The window's files on the host, by role (series, stop, phase, pid, summary, snapshot_start,
    snapshot_end, archive).
  returned: always
  type: dict
sampler_pid:
  description: With O(state=opened) and O(sampler), the process id of the sampler started (null in check mode).
  returned: when state is opened
  type: int
sampler:
  description: With O(state=closed), the summary the sampler wrote when it ended (samples, intervals, gaps,
    stop_reason, first and last timestamps), or null when it wrote none.
  returned: when state is closed
  type: dict
sampler_failed:
  description: With O(state=closed), true when the sampler never started, did not end by itself or left no summary.
  returned: when state is closed
  type: bool
error:
  description: With O(state=closed), why the sampler failed (null otherwise).
  returned: when state is closed
  type: str
archive:
  description: With O(state=closed), the archive to fetch (null when there was nothing to pack).
  returned: when state is closed
  type: str
ansible_facts:
  description: C(mlperf_proc), the snapshot just taken (as M(mlperf.storage.proc_facts) returns it).
  returned: when state is opened or closed
  type: dict
packed:
  description: With O(state=closed), the members of the archive (series.jsonl, snapshot_start.json, snapshot_end.json).
  returned: when state is closed
  type: list
  elements: str
"""

import os
import re
import tarfile
import time

from ansible.module_utils.basic import AnsibleModule

# the sampler's summary is read as an engine's status file is: None until it is complete JSON
from ansible_collections.mlperf.storage.plugins.module_utils._engine import read_status, write_json_atomic
from ansible_collections.mlperf.storage.plugins.module_utils._procfs import ProcReader, collect_snapshot
from ansible_collections.mlperf.storage.plugins.module_utils._safe_dir import check_dir, creation_failure, explain
from ansible_collections.mlperf.storage.plugins.module_utils._sampler import (
    Sampler,
    SamplerError,
    sampler_options,
    start_detached,
    stop_sampler,
    token_problem,
)

LABEL_RE = re.compile(r"^[A-Za-z0-9._-]+$")
# archive member -> the window file it holds (the names the controller's telemetry tree reads)
MEMBERS = (("series.jsonl", "series"), ("snapshot_start.json", "snapshot_start"),
           ("snapshot_end.json", "snapshot_end"))


def window_files(host_dir, label):
    base = os.path.join(host_dir, label)
    return {"series": base + ".jsonl", "stop": base + ".stop", "phase": base + ".phase", "pid": base + ".pid",
            "summary": base + ".summary.json", "snapshot_start": base + "_snapshot_start.json",
            "snapshot_end": base + "_snapshot_end.json", "archive": base + ".tgz"}


def _remove(path):
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def _snapshot(module, label, dest, result):
    """Snapshot the host (written to ``dest`` unless in check mode) and return it as the mlperf_proc fact."""
    paths = module.params["paths"] or {}
    snapshot = collect_snapshot(ProcReader("/"), paths=dict(paths), label=label)
    for warning in snapshot["warnings"]:
        module.warn(warning)
    if not module.check_mode:
        write_json_atomic(dest, snapshot)
    result["ansible_facts"] = {"mlperf_proc": snapshot}


def _wait_for(path, seconds):
    ends = time.monotonic() + max(seconds, 0.0)
    while not os.path.exists(path):
        if time.monotonic() >= ends:
            return False
        time.sleep(0.1)
    return True


def _sampler(module, files):
    """The window's sampler, checked before anything is written (None without the sampler option)."""
    params = module.params
    settings = params["sampler"]
    if settings is None:
        return None
    problem = token_problem(params["token"])
    if problem:
        module.fail_json(msg="telemetry_window: %s" % problem)
    try:
        return Sampler(path=files["series"], interval=settings["interval"], stop_file=files["stop"],
                       phase_file=files["phase"], pid_file=files["pid"], summary_file=files["summary"],
                       label=params["label"], max_duration=settings["max_duration"], deadline=settings["deadline"],
                       watch_pid=settings["watch_pid"], device_regex=settings["device_regex"],
                       interface_regex=settings["interface_regex"])
    except SamplerError as exc:
        module.fail_json(msg="telemetry_window: sampler: %s" % exc)


def _host_dir(module):
    """Create and check the host directory (create_host_dir); fails naming every unsafe component."""
    result = check_dir(module.params["host_dir"], create=not module.check_mode, mode=0o755)
    if not result["safe"]:
        module.fail_json(msg=explain(result), problems=result["problems"])
    if not module.check_mode and creation_failure(result):
        module.fail_json(msg="telemetry_window: %s" % creation_failure(result))


def opened(module, files):
    params = module.params
    result = {"files": files, "sampler_pid": None}
    sampler = _sampler(module, files)
    if params["create_host_dir"]:
        _host_dir(module)
    if not module.check_mode:
        for name in ("stop", "pid", "summary", "archive"):
            _remove(files[name])
        with open(files["phase"], "w") as handle:
            handle.write("%s\n" % (params["phase"] or params["label"]))
    _snapshot(module, "start", files["snapshot_start"], result)
    if sampler is not None and not module.check_mode:
        try:
            result["sampler_pid"] = start_detached(sampler)
        except SamplerError as exc:
            module.fail_json(msg="telemetry_window: %s" % exc, **result)
    module.exit_json(changed=True, **result)


def closed(module, files):
    params = module.params
    result = {"files": files, "sampler": None, "sampler_failed": True, "error": None, "archive": None,
              "packed": []}
    if module.check_mode:
        result["error"] = "the sampler was never started (check mode)"
        _snapshot(module, "end", files["snapshot_end"], result)
        module.exit_json(changed=False, **result)
    summary_seen = os.path.exists(files["summary"])
    started = summary_seen or _wait_for(files["pid"], params["start_wait"])
    with open(files["stop"], "a"):
        pass
    if not summary_seen and _wait_for(files["summary"], params["stop_timeout"]):
        summary_seen = True
    if summary_seen:
        result["sampler"] = read_status(files["summary"])
        if not result["sampler"] or result["sampler"].get("stop_reason") is None:
            result["error"] = (result["sampler"] or {}).get("error") or \
                "the sampler's summary %s cannot be read" % files["summary"]
        else:
            result["sampler_failed"] = False
    elif not started:
        result["error"] = "the sampler did not start within %.0f s (no pid file)" % params["start_wait"]
    else:
        kill = stop_sampler(files["pid"], files["series"], token=params["token"])
        result["error"] = "did not stop within %.0f s; %s" % (
            params["stop_timeout"], "sent SIGTERM" if kill["signalled"] else "not signalled: %s" % kill["reason"])
    _snapshot(module, "end", files["snapshot_end"], result)
    present = [(member, files[key]) for member, key in MEMBERS if os.path.isfile(files[key])]
    if present:
        tmp = files["archive"] + ".tmp"
        with tarfile.open(tmp, "w:gz", compresslevel=1) as archive:
            for member, path in present:
                archive.add(path, arcname=member, recursive=False)
        os.replace(tmp, files["archive"])
        result.update(archive=files["archive"], packed=[member for member, _ in present])
    module.exit_json(changed=True, **result)


def absent(module, files):
    removed = [path for path in files.values() if not module.check_mode and _remove(path)]
    if module.check_mode:
        removed = [path for path in files.values() if os.path.exists(path)]
    module.exit_json(changed=bool(removed), files=files, removed=removed)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", required=True, choices=["opened", "closed", "absent"]),
            host_dir=dict(type="path", required=True),
            create_host_dir=dict(type="bool", default=False),
            label=dict(type="str", required=True),
            phase=dict(type="str"),
            paths=dict(type="dict", default={}),
            token=dict(type="str", no_log=False),
            sampler=dict(type="dict", options=sampler_options()),
            start_wait=dict(type="float", default=30.0),
            stop_timeout=dict(type="float", default=30.0),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not LABEL_RE.match(params["label"]):
        module.fail_json(msg="telemetry_window: label must be letters, digits, '.', '_' or '-' (got %s)"
                             % params["label"])
    if not os.path.isabs(params["host_dir"]):
        module.fail_json(msg="telemetry_window: host_dir must be an absolute path (got %s)" % params["host_dir"])
    bad = sorted(name for name, value in (params["paths"] or {}).items() if not isinstance(value, str) or not value)
    if bad:
        module.fail_json(msg="telemetry_window: paths must map names to path strings; fix the entries %s"
                             % ", ".join(bad))
    files = window_files(params["host_dir"], params["label"])
    try:
        {"opened": opened, "closed": closed, "absent": absent}[params["state"]](module, files)
    except (IOError, OSError) as exc:
        module.fail_json(msg="telemetry_window: %s of %s failed: %s" % (
            params["state"], exc.filename or params["host_dir"], exc.strerror or exc), files=files)


if __name__ == "__main__":
    main()
