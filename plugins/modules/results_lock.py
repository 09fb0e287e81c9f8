#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: results_lock
short_description: Hold a results directory for one playbook at a time
description:
  - Takes (O(state=present)) or releases (O(state=absent)) an exclusive lock file C(.mlperf-results.lock) in a
    results directory on the controller, so that two playbooks never interleave their runs in one tree.
  - The holder is the running C(ansible-playbook) process, recorded as pid, host and process start time. A lock
    whose holder on this host is gone (killed, crashed, or the pid reused) is stale and taken over with a
    warning; a live holder makes the task fail at once naming it, or after O(wait) seconds.
  - Releasing a lock held by another process changes nothing.
  - Runs on the controller only.
version_added: "0.1.0"
options:
  path:
    description: The results directory (created if missing).
    type: path
    required: true
  state:
    description: Take or release the lock.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Seconds to wait for a live holder before failing (0 = fail at once).
    type: int
    default: 0
  purpose:
    description: What the lock is for, shown to whoever finds it held.
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    details: In check mode nothing is written.
  diff_mode:
    support: none
author:
  - mlperf.storage contributors
"""

EXAMPLES = r"""
- name: One playbook at a time in this results tree
  mlperf.storage.results_lock:
    path: "{{ mlperf_controller_results_dir }}"
    purpose: training unet3d
    wait: 600
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
path:
  description: The lock file.
  returned: always
  type: str
pid:
  description: The ansible-playbook process that holds (or released) the lock.
  returned: always
  type: int
holder:
  description: The record written (pid, host, start_ticks, since, purpose), or the live holder on failure.
  returned: when state=present
  type: dict
stale_holder:
  description: The record of a dead holder that was replaced.
  returned: when a stale lock was taken over
  type: dict
"""
