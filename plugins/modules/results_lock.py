#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: results_lock
short_description: Hold a results directory for one playbook at a time
description:
  - Takes (O(state=present)) or releases (O(state=absent)) an exclusive lock file C(.mlperf-results.lock) in a
    results directory on the controller, so that two playbooks never interleave their runs in one tree.
  - The lock file is written completely to a temporary file and then hard-linked into place, so it is never seen
    empty or half-written; a stale lock is replaced by one atomic rename under a per-file break marker, so of
    several playbooks racing for it exactly one wins.
  - The holder is the running C(ansible-playbook) process, recorded as pid, process start time, boot id, pid
    namespace, host name, machine id, user, purpose, the AWX job (from the C(awx_job_id)/C(tower_job_id) extra
    variables or the C(JOB_ID) environment variable that AWX sets), the time it was taken and a lease.
  - "Liveness: on the same host, boot and pid namespace the holder is alive while its process runs (a pid reused
    by another process does not count); on the same host after a reboot it is stale; on another host or in another
    container (every AWX job runs in a new one) it cannot be checked and is alive until its lease ends."
  - A lock file that is not a readable record (empty, garbage) is stale once it is 30 seconds old.
  - A live holder makes the task fail at once, or after O(wait) seconds, with a message that names the holder
    (host, pid, AWX job, purpose, since, lease) and how to clear it.
  - O(break_token) (or the variable C(mlperf_results_lock_break)) takes over the lock whose token it is, alive or
    not, and no other lock; use it when you know that holder is dead.
  - Releasing removes only this playbook's own lock (by O(token), or else by process), is idempotent and never
    fails the play.
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
  lease:
    description:
      - Seconds for which this holder is presumed alive by playbooks that cannot check its process (another host,
        another container). Give the longest the playbook can run, for example run timeout times runs plus a margin.
      - 0 means no expiry (held until released or broken).
      - Taking the lock again from the same playbook renews the lease and the purpose and keeps the token.
    type: int
    default: 43200
  break_token:
    description:
      - The token of a holder known to be dead; its lock is taken over even if it still counts as alive. A lock with
        any other token is left alone.
      - When not given, the variable C(mlperf_results_lock_break) is used (for example
        C(-e mlperf_results_lock_break=<token>), the token is printed when the lock is refused).
    type: str
  token:
    description:
      - With O(state=absent), release only the lock with this token (the RV(token) returned when it was taken).
      - Without it, the lock is released only if this C(ansible-playbook) process holds it.
    type: str
attributes:
  check_mode:
    support: full
    details: In check mode nothing is written or removed.
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
"""

EXAMPLES = r"""
- name: One playbook at a time in this results tree
  mlperf.storage.results_lock:
    path: "{{ mlperf_controller_results_dir }}"
    purpose: training unet3d
    wait: 600
    lease: "{{ mlperf_run_timeout * (mlperf_runs + 1) + 3600 }}"
  run_once: true
  delegate_to: localhost
  register: results_lock_taken

- name: Release exactly the lock taken above
  mlperf.storage.results_lock:
    path: "{{ mlperf_controller_results_dir }}"
    state: absent
    token: "{{ results_lock_taken.token }}"
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
token:
  description: The token of the lock taken; give it to O(token) to release exactly this lock.
  returned: when state=present and the lock was taken
  type: str
  sample: 5f0c9a3e1b2d4c6a
lease_until:
  description: When the lease of the lock taken ends (ISO 8601), null without a lease.
  returned: when state=present and the lock was taken
  type: str
holder:
  description:
    - The record written (token, pid, start_ticks, boot_id, pid_ns, host, machine_id, user, purpose, awx, since,
      lease_until), or the live holder when the lock was refused (null for an unreadable lock file), or the other
      holder left alone by a release.
  returned: when state=present, and on release when someone else holds the lock
  type: dict
stale_holder:
  description: The record of the holder that was taken over, with C(stale_reason) (C(unreadable) holds the start of
    an unreadable lock file).
  returned: when a stale or broken lock was taken over
  type: dict
released:
  description: Whether this task removed the lock.
  returned: when state=absent
  type: bool
"""
