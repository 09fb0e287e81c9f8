#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: history
short_description: Record and list the benchmark playbooks that wrote into a results tree
version_added: "0.2.0"
description:
  - With O(state=present), records one invocation of a benchmark playbook in
    C(<path>/.mlperf-history/<id>.json) - the playbook, when it started and finished, the collection version, the
    hosts, the inventory sources, every variable of the collection's interface (those its roles declare) as it was
    set, the run directories written, the verdict and the outcome - and the variables alone in
    C(<id>.vars.json), so that C(ansible-playbook <playbook> -e @<id>.vars.json) runs it again.
  - Variables whose names look like secrets (password, token, secret, credential, private or API key) and
    vaulted values are never written; the record lists their names so that a rerun passes them again.
  - Records are written whole and never rewritten; a record that cannot be written is a warning, never a
    failure (the benchmark's results are kept whatever happens to their history).
  - With O(state=list) (the default), returns the records oldest first and one line per record; O(entry) picks
    one by id or by number counted from the newest.
  - The verifier does not read C(.mlperf-history) (hidden directories are not part of a submission).
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
options:
  path:
    description: The controller results tree (C(mlperf_controller_results_dir)).
    type: path
    required: true
  state:
    description: V(present) records an invocation; V(list) reads the history.
    type: str
    choices: [list, present]
    default: list
  benchmark:
    description: With O(state=present), the benchmark the playbook ran (its playbook follows from it).
    type: str
    choices: [training, training_datagen, checkpointing, kv_cache, vector_database]
  hosts:
    description: With O(state=present), the hosts of the play.
    type: list
    elements: str
    default: []
  run_dirs:
    description: With O(state=present), the run directories the playbook wrote (recorded relative to O(path)).
    type: list
    elements: str
    default: []
  verdict:
    description: With O(state=present), the verifier's verdict, when the playbook got that far.
    type: str
  outcome:
    description: With O(state=present), how the playbook ended (V(completed) or what stopped it).
    type: str
  started:
    description: With O(state=present), when the playbook took the results tree (ISO 8601).
    type: str
  entry:
    description: With O(state=list), the id of one entry, or its number counted from the newest (V(1) = last).
    type: str
  last:
    description: With O(state=list), how many of the newest entries the text lines cover (V(0) = all).
    type: int
    default: 20
attributes:
  check_mode:
    support: partial
    details: Listing runs as usual; recording is skipped in check mode (nothing ran).
"""

EXAMPLES = r"""
- name: Record this invocation in the results tree
  mlperf.storage.history:
    path: "{{ mlperf_controller_results_dir }}"
    state: present
    benchmark: training
    hosts: "{{ ansible_play_hosts_all }}"
    run_dirs: "{{ mlperf_run_leaves | default([]) }}"
    verdict: "{{ results_verdict.verdict | default(omit) }}"
    outcome: completed
  run_once: true
  delegate_to: localhost

- name: Show the newest entry and how to run it again
  mlperf.storage.history:
    path: /var/tmp/mlperf-storage/results
    entry: "1"
  register: history
"""

RETURN = r"""
entries:
  description: With O(state=list), every record, oldest first.
  returned: state is list
  type: list
  elements: dict
lines:
  description: With O(state=list), one line per record (id, playbook, verdict, outcome, run directories, hosts).
  returned: state is list
  type: list
  elements: str
entry:
  description:
    - The record written (O(state=present)) or picked by O(entry) - C(id), C(playbook), C(benchmark),
      C(started), C(finished), C(collection_version), C(hosts), C(inventory), C(variables),
      C(omitted_secrets), C(run_dirs), C(verdict), C(outcome) and C(rerun), the command that runs it again.
  returned: when recorded or picked
  type: dict
problems:
  description: With O(state=list), files in the history directory that could not be read as records.
  returned: state is list
  type: list
  elements: str
msg:
  description: What was recorded (with the rerun command) or how many entries there are.
  returned: always
  type: str
"""
