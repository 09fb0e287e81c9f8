#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: engine_run
short_description: Run a benchmark engine command with its output streamed to log files
version_added: "0.1.0"
description:
  - Runs an argv list (never through a shell) in its own process group, streaming standard output and
    standard error to files as it runs, and writes the outcome (exit code, start, end, duration, how it
    ended) atomically to a status file.
  - Meant to be started with C(async) and C(poll=0) and followed by M(mlperf.storage.engine_wait), which
    reports progress while it runs. A SIGTERM or SIGINT is passed on to every process of the engine.
  - The module's own O(timeout) stops the engine cleanly; keep the C(async) ceiling above it.
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.check_mode_none
options:
  argv:
    description: The command and its arguments.
    type: list
    elements: str
    required: true
  stdout:
    description: File that receives standard output (appended).
    type: path
    required: true
  stderr:
    description: File that receives standard error (appended).
    type: path
    required: true
  status_file:
    description: File the outcome is written to when the engine ends. Must not exist yet.
    type: path
    required: true
  pid_file:
    description: File holding the engine's process group while it runs (removed at the end).
    type: path
  chdir:
    description: Working directory.
    type: path
  env:
    description: Environment variables added to the module's environment for the engine.
    type: dict
    default: {}
  timeout:
    description: Seconds after which the engine is stopped (0 = no limit).
    type: int
    default: 0
  heartbeat_file:
    description:
      - File that M(mlperf.storage.engine_wait) touches on every progress poll. Created when the engine starts.
      - With O(heartbeat_timeout), the engine is stopped (C(ended_by=controller-lost)) once the file has not
        been touched for that long, because then the playbook that would stop and collect it is gone
        (interrupted with Ctrl-C or SIGTERM, killed, or cut off from this host).
    type: path
  heartbeat_timeout:
    description: Seconds without a heartbeat after which the engine is stopped (0 = never). Keep it well above
      the poll interval plus the connection's worst latency.
    type: int
    default: 0
  run_id:
    description:
      - The run's identity (a random token of at least 8 characters, see M(mlperf.storage.run_dir)). It is put
        into the engine's environment as C(MLPERF_STORAGE_RUN_ID), which MPI passes on to every rank, so that
        M(mlperf.storage.engine_stop) stops exactly this run's processes and no one else's.
    type: str
"""

EXAMPLES = r"""
- name: Start a DLIO run
  mlperf.storage.engine_run:
    argv: ["/opt/mlperf-storage/venv/bin/mpirun", "-n", "2", "/opt/mlperf-storage/venv/bin/dlio_benchmark",
           "workload=unet3d_b200"]
    stdout: /results/run/training_run.stdout.log
    stderr: /results/run/training_run.stderr.log
    status_file: /results/run/.engine-status.json
    heartbeat_file: /results/run/.engine-heartbeat
    heartbeat_timeout: 120
    run_id: 20261123_101524-3f9c0a7d5e21b846
    timeout: 3600
  async: 3700
  poll: 0
  register: engine_job
"""

RETURN = r"""
rc:
  description: Exit code of the engine (negative when killed by a signal).
  returned: always
  type: int
start:
  description: ISO 8601 start time.
  returned: always
  type: str
end:
  description: ISO 8601 end time.
  returned: always
  type: str
duration_seconds:
  description: Wall time.
  returned: always
  type: float
ended_by:
  description: C(exit), C(timeout), C(signal) (this runner was signalled), C(killed) (the engine was killed from outside), C(controller-lost) or C(not-started).
  returned: always
  type: str
"""

from ansible_collections.mlperf.storage.plugins.module_utils import _engine


def main():
    module = _engine.runner_module(
        "status_file", "run_id", "engine_wait",
        stdout=dict(type="path", required=True),
        stderr=dict(type="path", required=True),
        status_file=dict(type="path", required=True),
        run_id=dict(type="str"),
    )
    p = module.params
    env = dict((str(k), str(v)) for k, v in p["env"].items())
    status = _engine.run_engine(p["argv"], p["stdout"], p["stderr"], p["status_file"], env=env, cwd=p["chdir"],
                                timeout=p["timeout"] or None, pid_path=p["pid_file"],
                                heartbeat_path=p["heartbeat_file"], heartbeat_timeout=p["heartbeat_timeout"] or None,
                                run_id=p["run_id"])
    result = dict(changed=True, **status)
    if status["rc"] != 0:
        module.fail_json(msg="engine ended by %s with exit code %s; see %s" % (
            status["ended_by"], status["rc"], p["stderr"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
