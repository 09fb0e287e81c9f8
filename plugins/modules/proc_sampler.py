#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: proc_sampler
short_description: Sample host activity from /proc into a JSON-lines file until told to stop
version_added: "0.1.0"
description:
  - One long-lived sampler per host, meant to be started with C(async) and C(poll=0) before a
    benchmark phase and stopped after it by creating O(stop_file).
  - Every O(interval) seconds appends one JSON object per line to O(path) and flushes it, so a
    killed sampler loses at most the sample being written. Each sample holds a timestamp, the phase
    label in force, per-device read/write bytes/s, IOPS and utilisation (from C(/proc/diskstats)
    deltas), aggregate CPU use (user/system/iowait/steal/idle percent), memory (used, cached, dirty,
    writeback), per-interface network bytes/s and the load average.
  - The series is never kept in memory; memory use is the same after a minute or a day.
  - Stops on the first of these - O(stop_file) appears, O(max_duration) passes, O(max_samples) are
    taken, the wall clock passes O(deadline), process O(watch_pid) exits, or SIGTERM/SIGINT/SIGHUP.
  - Returns a summary (sample count, achieved interval, gaps), never the series.
  - With O(state=stopped) it does not sample; it sends SIGTERM to the running sampler named by O(pid_file),
    after checking that the pid file names this phase's sampler (see O(state)).
options:
  state:
    description:
      - C(running) samples until a stop condition holds (start it with C(async) and C(poll=0)).
      - C(stopped) terminates a sampler that did not react to O(stop_file). The pid file is not trusted,
        since it lies in a working directory and this may run as root. It must hold one positive process
        id, of a live process owned by the user this module runs as, that holds O(path) open and, when
        O(token) is set, was started with C(MLPERF_SAMPLER_TOKEN=<token>) in its environment. Anything else
        is refused and nothing is signalled (RV(outcome) C(refused)). The signal goes through a pidfd
        where the kernel has them, so it cannot reach a process that reused the pid after the check.
    type: str
    choices: [running, stopped]
    default: running
  token:
    description:
      - Identity of this phase's sampler. With O(state=running) the module refuses to start unless its
        environment holds C(MLPERF_SAMPLER_TOKEN) with this value (set it with the task's C(environment)),
        so that O(state=stopped) can recognise the process by its C(/proc/<pid>/environ).
      - With O(state=stopped), the process named by O(pid_file) must carry it.
    type: str
  stop_wait:
    description: With O(state=stopped), seconds to wait for the sampler to exit after SIGTERM.
    type: float
    default: 5.0
  path:
    description:
      - JSON-lines output file. Truncated at start; its directory must exist.
      - Two samplers cannot write the same file at once (the file is locked); give each phase
        its own file.
    type: path
    required: true
  interval:
    description: Seconds between samples; at least 0.1.
    type: float
    default: 1.0
  stop_file:
    description:
      - The sampler stops within a quarter of a second once this file exists.
      - A stop file left by an earlier run is removed at start.
      - Defaults to O(path) with C(.stop) appended.
    type: path
  phase_file:
    description:
      - File holding the current phase label (first line), re-read at every sample so the label
        can change without restarting the sampler. When absent or empty the label is O(label).
      - Defaults to O(path) with C(.phase) appended.
    type: path
  summary_file:
    description:
      - File the sampler writes its summary (the module's return values) to when it ends, or an object with
        only C(error) when it cannot start; M(mlperf.storage.telemetry_window) reads it instead of the async
        job's result.
    type: path
  pid_file:
    description:
      - File the sampler writes its process id to once it is running. It is left in place when the
        sampler exits, so waiting for it never blocks on a sampler that already ended; remove it
        before starting the next sampler on the same path.
      - Waiting for this file before creating O(stop_file) avoids stopping a sampler that has not
        started yet (its stale-stop-file cleanup would remove the request).
      - Defaults to O(path) with C(.pid) appended.
    type: path
  label:
    description: Phase label used when O(phase_file) is absent or empty.
    type: str
  max_duration:
    description:
      - Hard limit in seconds, always honoured, so an interrupted playbook cannot leave a sampler
        running forever.
      - Keep it below the task's C(async) ceiling so the sampler exits cleanly and returns its
        summary instead of being killed by the async wrapper. When the module sees that it runs
        under the async wrapper with a ceiling too close, it lowers O(max_duration) to end a few
        seconds before the ceiling and says so in a warning.
    type: float
    default: 3600
  max_samples:
    description: Stop after this many samples; 0 means no limit.
    type: int
    default: 0
  deadline:
    description:
      - Absolute stop time as seconds since the epoch (host clock), for example the time the
        controller expects the play to be over.
    type: float
  watch_pid:
    description:
      - Stop when this process (on the same host) exits, for example the process that launched
        the benchmark. An Ansible controller process is not visible on remote hosts; there
        O(max_duration) and O(deadline) are the guards.
    type: int
  device_regex:
    description:
      - Only sample block devices whose name matches this regular expression.
      - When unset, every device except partitions and C(loop), C(ram), C(zram), C(fd), C(sr)
        devices is sampled (see O(skip_virtual_devices)).
    type: str
  skip_virtual_devices:
    description: Skip partitions and loop/ram/zram devices when O(device_regex) is unset.
    type: bool
    default: true
  interface_regex:
    description: Only sample network interfaces whose name matches this regular expression.
    type: str
attributes:
  check_mode:
    support: full
    details: In check mode nothing is sampled or written; the result says a sampler would run.
notes:
  - Runs with the host's own Python 3.9+ and reads only /proc; no third-party packages.
  - Sampling cost at 1 s is well under 1 % of one core; see C(bench/sampler_cost.py).
seealso:
  - module: mlperf.storage.proc_facts
  - module: ansible.builtin.async_status
extends_documentation_fragment:
  - mlperf.storage.common
"""

EXAMPLES = r"""
- name: Start sampling before the run (returns at once)
  mlperf.storage.proc_sampler:
    path: /var/tmp/mlperf/telemetry/run_1/run_1.jsonl
    label: run_1
    interval: 1.0
    max_duration: 7200
  async: 7260
  poll: 0
  register: sampler_job

- name: Run the benchmark phase
  ansible.builtin.command: /opt/bench/run.sh
  changed_when: true

- name: Ask the sampler to stop
  ansible.builtin.file:
    path: /var/tmp/mlperf/telemetry/run_1/run_1.jsonl.stop
    state: touch
    mode: "0644"

- name: Wait for its summary
  ansible.builtin.async_status:
    jid: "{{ sampler_job.ansible_job_id }}"
  register: sampler
  until: sampler is finished
  retries: 30
  delay: 1

- name: Start a sampler that can be recognised by its token
  mlperf.storage.proc_sampler:
    path: /var/tmp/mlperf/telemetry/run_2/run_2.jsonl
    token: "{{ sampler_token }}"
  environment:
    MLPERF_SAMPLER_TOKEN: "{{ sampler_token }}"
  async: 7260
  poll: 0
  register: sampler_job_2

- name: Terminate it if it does not stop by itself (checks the pid file first)
  mlperf.storage.proc_sampler:
    path: /var/tmp/mlperf/telemetry/run_2/run_2.jsonl
    state: stopped
    token: "{{ sampler_token }}"
  register: terminated
"""

RETURN = r"""
path:
  description: The JSON-lines file written.
  returned: always
  type: str
  sample: /var/tmp/mlperf/telemetry/run_1/run_1.jsonl
label:
  description: The O(label) given.
  returned: always
  type: str
  sample: run_1
samples:
  description: Number of samples written.
  returned: always
  type: int
  sample: 3600
interval_target:
  description: The requested interval in seconds.
  returned: always
  type: float
  sample: 1.0
interval_mean:
  description: Mean seconds between consecutive samples (null when no sample was taken).
  returned: always
  type: float
  sample: 1.0003
interval_max:
  description: Longest seconds between consecutive samples.
  returned: always
  type: float
  sample: 1.02
gaps:
  description: Number of intervals longer than twice the target (the host stalled the sampler).
  returned: always
  type: int
  sample: 0
gap_list:
  description: The first 100 gaps, each with the sample it followed, its start and its length.
  returned: always
  type: list
  elements: dict
  sample: [{"after_seq": 41, "at": "2026-11-23T10:15:41.002Z", "seconds": 3.1}]
stop_reason:
  description: >-
    Why sampling ended - C(stop_file), C(max_duration), C(max_samples), C(deadline),
    C(watched_process_exited), C(signal), or C(check_mode).
  returned: always
  type: str
  sample: stop_file
first_timestamp:
  description: UTC time of the first sample (null when none was taken).
  returned: always
  type: str
  sample: "2026-11-23T10:15:01.001Z"
last_timestamp:
  description: UTC time of the last sample.
  returned: always
  type: str
  sample: "2026-11-23T11:15:00.998Z"
duration:
  description: Seconds the sampler ran.
  returned: always
  type: float
  sample: 3600.2
pid:
  description: Process id the sampler ran as; with O(state=stopped), the pid read from O(pid_file) (null if none).
  returned: always
  type: int
  sample: 41234
outcome:
  description: >-
    With O(state=stopped) - C(terminated) (signalled and exited), C(still_running) (signalled, did not exit
    within O(stop_wait)), C(not_running) (no pid file, or its process is gone) or C(refused) (the pid file does
    not name this phase's sampler; nothing was signalled).
  returned: when state is stopped
  type: str
  sample: terminated
signalled:
  description: With O(state=stopped), whether SIGTERM was sent.
  returned: when state is stopped
  type: bool
  sample: true
reason:
  description: With O(state=stopped), why nothing was signalled or why the sampler is still running (null otherwise).
  returned: when state is stopped
  type: str
  sample: process 4242 does not hold this phase's series file open (a reused pid or another program)
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mlperf.storage.plugins.module_utils._engine import write_json_atomic
from ansible_collections.mlperf.storage.plugins.module_utils._sampler import (
    Sampler,
    SamplerError,
    async_time_limit,
    duration_within_ceiling,
    sampler_options,
    stop_sampler,
    token_problem,
)


def read_parent_cmdline():
    try:
        with open("/proc/%d/cmdline" % os.getppid(), "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return ""


def fail_to_start(module, message):
    """Fail, leaving the reason where the window's stop reads it (the async job's own result is not read)."""
    if module.params["summary_file"] and not module.check_mode:
        try:
            write_json_atomic(module.params["summary_file"], {"error": message})
        except (IOError, OSError):
            pass
    module.fail_json(msg=message, path=module.params["path"])


def stop(module):
    params = module.params
    path = params["path"]
    pid_file = params["pid_file"] or path + ".pid"
    if module.check_mode:
        module.exit_json(changed=False, path=path, pid=None, outcome="not_running", signalled=False,
                         reason="check mode: nothing signalled")
    result = stop_sampler(pid_file, path, token=params["token"], wait=params["stop_wait"])
    if result["outcome"] == "refused":
        module.warn("proc_sampler: not signalling anything for %s: %s" % (pid_file, result["reason"]))
    module.exit_json(changed=result["signalled"], path=path, pid=result["pid"], outcome=result["outcome"],
                     signalled=result["signalled"], reason=result["reason"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            stop_file=dict(type="path"),
            phase_file=dict(type="path"),
            pid_file=dict(type="path"),
            label=dict(type="str"),
            max_samples=dict(type="int", default=0),
            skip_virtual_devices=dict(type="bool", default=True),
            state=dict(type="str", default="running", choices=["running", "stopped"]),
            token=dict(type="str", no_log=False),
            stop_wait=dict(type="float", default=5.0),
            summary_file=dict(type="path"),
            **sampler_options()
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = params["path"]
    if params["state"] == "stopped":
        stop(module)
    problem = token_problem(params["token"])
    if problem:
        module.fail_json(msg="proc_sampler: %s" % problem, path=path)
    max_duration = params["max_duration"]
    ceiling = async_time_limit(read_parent_cmdline())
    if max_duration is not None and max_duration > 0:
        lowered = duration_within_ceiling(max_duration, ceiling)
        if lowered < max_duration:
            module.warn("max_duration %.0f s is not below the async ceiling of %d s; sampling stops after %.1f s "
                        "so the sampler can report before the async wrapper kills it (raise async or lower "
                        "max_duration)" % (max_duration, ceiling, lowered))
            max_duration = lowered
    try:
        sampler = Sampler(
            path=path,
            interval=params["interval"],
            stop_file=params["stop_file"] or path + ".stop",
            phase_file=params["phase_file"] or path + ".phase",
            pid_file=params["pid_file"] or path + ".pid",
            label=params["label"],
            max_duration=max_duration,
            max_samples=params["max_samples"],
            deadline=params["deadline"],
            watch_pid=params["watch_pid"],
            device_regex=params["device_regex"],
            skip_virtual_devices=params["skip_virtual_devices"],
            interface_regex=params["interface_regex"],
            summary_file=None if module.check_mode else params["summary_file"],
        )
    except SamplerError as exc:
        fail_to_start(module, "proc_sampler: %s" % exc)

    if module.check_mode:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            module.fail_json(msg="proc_sampler: output directory %s does not exist; create it before "
                                 "starting the sampler" % directory, path=path)
        module.exit_json(changed=True, path=path, samples=0, interval_target=params["interval"],
                         interval_mean=None, interval_max=None, gaps=0, gap_list=[],
                         stop_reason="check_mode", label=params["label"], first_timestamp=None, last_timestamp=None,
                         duration=0.0, pid=os.getpid())

    try:
        summary = sampler.run()
    except SamplerError as exc:
        fail_to_start(module, "proc_sampler: %s" % exc)
    for warning in summary.pop("warnings"):
        module.warn(warning)
    # the output file was created or truncated even when no sample was taken
    module.exit_json(changed=True, **summary)


if __name__ == "__main__":
    main()
