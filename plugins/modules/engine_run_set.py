#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: engine_run_set
short_description: Run the runs of a run set back to back, each in its own new run directory
version_added: "0.3.0"
description:
  - Runs O(runs) engine runs one after the other in a single job on this host (the launcher). For each run it
    reserves a new timestamped run directory under O(base) as M(mlperf.storage.run_dir) does (same names, a new
    run identity), writes the phase label of the samplers on this host (O(phase_files)), and runs the engine as
    M(mlperf.storage.engine_run) does (its own process group, the same status file C(.engine-status.json), the
    same logs, heartbeat and C(MLPERF_STORAGE_RUN_ID)).
  - What happened is written atomically to O(set_status_file) after every step (each run's directory, identity,
    times and engine status), so M(mlperf.storage.engine_set_wait) can report progress per run and the
    controller can seal every run afterwards, even when this job is gone.
  - The set stops at the first run that does not exit with code 0, when O(stop_file) appears (the engine running
    then is stopped, C(ended_by=stopped)) or when the controller stopped polling (O(heartbeat_file)). Later runs
    are never started; the status lists them in C(not_started).
  - Meant to be started with C(async) and C(poll=0); keep the C(async) ceiling above O(runs) times O(timeout).
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.check_mode_none
options:
  base:
    description: Directory under which each run's timestamped directory is made.
    type: path
    required: true
  runs:
    description: Number of runs.
    type: int
    required: true
  argv:
    description: The engine command and its arguments; C(@RUN_DIR@) in any of them is replaced by each run's
      directory.
    type: list
    elements: str
    required: true
  stdout:
    description: Name of the file, inside each run directory, that receives standard output.
    type: str
    required: true
  stderr:
    description: Name of the file, inside each run directory, that receives standard error.
    type: str
    required: true
  set_status_file:
    description: File the set status is written to. Must not exist yet.
    type: path
    required: true
  pid_file:
    description: Pid file of each run's engine, with C(%s) where the run's timestamp goes (removed when the run
      ends).
    type: path
  stop_file:
    description: File whose appearance stops the set (the running engine and every later run).
    type: path
  phase_files:
    description: Phase label files of samplers on this host; each run writes C(<phase_prefix>_<timestamp>) into
      them when it starts.
    type: list
    elements: path
    default: []
  set_id:
    description:
      - The set's identity (a random token of at least 8 characters). Every engine of the set carries it as
        C(MLPERF_STORAGE_RUN_SET) next to its own C(MLPERF_STORAGE_RUN_ID), so M(mlperf.storage.engine_stop) given
        it in O(mlperf.storage.engine_stop#module:run_ids) stops the ranks of whichever run was running, even when
        the launcher cannot be asked which one that was.
    type: str
  phase_prefix:
    description: First part of the phase label of each run (the command, for example C(run)).
    type: str
    default: run
  chdir:
    description: Working directory of the engine.
    type: path
  env:
    description: Environment variables added for the engine.
    type: dict
    default: {}
  timeout:
    description: Seconds after which one run's engine is stopped (0 = no limit).
    type: int
    default: 0
  heartbeat_file:
    description: File that M(mlperf.storage.engine_set_wait) touches on every poll; see
      M(mlperf.storage.engine_run). Also checked before every run after the first.
    type: path
  heartbeat_timeout:
    description: Seconds without a heartbeat after which the running engine is stopped and no further run starts
      (0 = never).
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Start three DLIO runs back to back
  mlperf.storage.engine_run_set:
    base: /results/closed/org/results/sys/training/unet3d/run
    runs: 3
    argv: ["/opt/mlperf-storage/venv/bin/mpirun", "-n", "2", "/opt/mlperf-storage/venv/bin/dlio_benchmark",
           "workload=unet3d_b200", "++hydra.run.dir=@RUN_DIR@"]
    stdout: training_run.stdout.log
    stderr: training_run.stderr.log
    set_status_file: /var/tmp/mlperf-storage/work/runset-run_20261204_183000.json
    stop_file: /var/tmp/mlperf-storage/work/runset-run_20261204_183000.stop
    heartbeat_file: /var/tmp/mlperf-storage/work/runset-run_20261204_183000.heartbeat
    heartbeat_timeout: 180
    timeout: 3600
  async: 11100
  poll: 0
  register: run_set_job
"""

RETURN = r"""
runs:
  description: One entry per started run (number, path, timestamp, run_id, status_file, pid_file, reserved_epoch,
    end_epoch, status).
  returned: always
  type: list
  elements: dict
runs_planned:
  description: O(runs).
  returned: always
  type: int
stopped_by:
  description: Null when every run completed, else C(run-failed), C(stop-file), C(controller-lost) or
    C(reserve-failed).
  returned: always
  type: str
failed_run:
  description: Number of the run that failed (null when none did).
  returned: always
  type: int
not_started:
  description: Numbers of the runs that were never started.
  returned: always
  type: list
  elements: int
"""

from ansible_collections.mlperf.storage.plugins.module_utils import _engine, _engine_set


def main():
    module = _engine.runner_module(
        "set_status_file", "set_id", "engine_set_wait",
        base=dict(type="path", required=True),
        runs=dict(type="int", required=True),
        stdout=dict(type="str", required=True),
        stderr=dict(type="str", required=True),
        set_status_file=dict(type="path", required=True),
        stop_file=dict(type="path"),
        phase_files=dict(type="list", elements="path", default=[]),
        phase_prefix=dict(type="str", default="run"),
        set_id=dict(type="str"),
    )
    p = module.params
    if p["runs"] < 1:
        module.fail_json(msg="runs must be at least 1 (got %d)" % p["runs"])
    if p["pid_file"] and p["pid_file"].count("%s") != 1:
        module.fail_json(msg="pid_file must hold %%s exactly once, where each run's timestamp goes (got %s)"
                         % p["pid_file"])
    for name in ("stdout", "stderr"):
        if "/" in p[name] or p[name] in ("", ".", ".."):
            module.fail_json(msg="%s must be a file name inside each run directory (got %r)" % (name, p[name]))
    env = dict((str(k), str(v)) for k, v in p["env"].items())
    if p["heartbeat_file"]:
        _engine_set._engine.touch(p["heartbeat_file"])  # the grace period starts now
    status = _engine_set.run_set(
        p["base"], p["runs"], p["argv"], p["stdout"], p["stderr"], p["set_status_file"], env=env, cwd=p["chdir"],
        timeout=p["timeout"] or None, pid_template=p["pid_file"], heartbeat_path=p["heartbeat_file"],
        heartbeat_timeout=p["heartbeat_timeout"] or None, stop_path=p["stop_file"], phase_files=p["phase_files"],
        phase_prefix=p["phase_prefix"], set_id=p["set_id"])
    result = dict(changed=True, **status)
    if status["stopped_by"]:
        module.fail_json(msg="run set stopped (%s): %s" % (status["stopped_by"], status["error"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
