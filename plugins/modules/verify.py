#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: verify
short_description: Verify MLPerf Storage results against the rules and gate the play
description:
  - Loads every run directory under O(path) (or the single run directory O(path) names), runs the
    MLPerf Storage rule checks of the selected edition and reduces them to a verdict per run, per
    result (submission) and overall, V(CLOSED), V(OPEN) or V(INVALID).
  - Fails the task when the verdict is V(INVALID) (see O(fail_on_invalid)) and publishes the verdict,
    the results path and the run ids as custom stats (C(per_host=false)), which AWX stores as the
    job's artifacts.
  - Ansible aggregates custom stats only from tasks that did not fail. To publish the verdict of an
    INVALID tree as artifacts, set O(fail_on_invalid=false) and gate with a following task, as
    C(mlperf.storage.verify) the playbook does.
  - Runs on the controller only; it reads the results tree where the play collected it.
version_added: "0.1.0"
options:
  path:
    description: Results directory (or one run directory) to verify.
    type: path
    required: true
    aliases: [results_dir]
  edition:
    description:
      - Rules edition to judge by (V(3.0), V(2.0)). Default is the edition each run or its
        C(submission.yaml) records, else V(3.0).
    type: str
  package_checks:
    description: Also apply the submission-package checks (required files in every run leaf).
    type: bool
    default: false
  fail_on_invalid:
    description: Fail the task when the overall verdict is V(INVALID).
    type: bool
    default: true
  fail_on_open:
    description: Fail the task when the overall verdict is V(OPEN) or V(INVALID) (a CLOSED-only gate).
    type: bool
    default: false
  report_file:
    description: Write the verify report (runs and results with their issues) to this JSON file.
    type: path
  publish_stats:
    description: Return C(ansible_stats) so the verdict reaches C(set_stats) custom data and AWX artifacts.
    type: bool
    default: true
  report_beside_results:
    description:
      - Let the report callback C(mlperf.storage.rules_report) write its JSON and JUnit files into the verified
        directory when its C(report_dir) option is not set. Only for a tree the play itself made, as the
        collection's benchmark playbooks do.
      - Off by default, so verifying never writes into the tree it checks; the task itself writes only
        O(report_file).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: Verification only reads files; it runs the same in check mode.
notes:
  - The report callback C(mlperf.storage.rules_report) prints the same report when enabled, and writes it
    where its C(report_dir) option says (or, with O(report_beside_results=true), into the verified directory).
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
"""

EXAMPLES = r"""
- name: Verify the collected results and fail the play on INVALID
  mlperf.storage.verify:
    path: /srv/mlperf/results

- name: Publish the verdict even for INVALID trees, then gate
  mlperf.storage.verify:
    path: /srv/mlperf/results
    report_file: /srv/mlperf/verify-report.json
    fail_on_invalid: false
  register: verify

- name: Gate on the verdict
  ansible.builtin.fail:
    msg: "{{ verify.msg }}"
  when: verify.verdict == 'INVALID'
"""

RETURN = r"""
verdict:
  description: Worst verdict over all runs and results.
  returned: success
  type: str
  sample: CLOSED
results_dir:
  description: The verified path.
  returned: success
  type: str
  sample: /srv/mlperf/results
edition:
  description: Rules edition the runs were judged by.
  returned: success
  type: raw
  sample: "3.0"
counts:
  description: Number of runs per verdict.
  returned: success
  type: dict
  sample: {"CLOSED": 35, "INVALID": 1}
run_ids:
  description: Run ids (C(<benchmark>_<command>_<model>_<YYYYMMDD_HHMMSS>)) of every verified run.
  returned: success
  type: list
  elements: str
  sample: ["training_run_unet3d_20260712_120720"]
submissions:
  description: Per result (division, org, system, benchmark, model) verdict and aggregated metrics.
  returned: success
  type: list
  elements: dict
mlperf_verify:
  description: The full report (runs with issues and metrics, results with issues and metrics); the report
    callback reads this key.
  returned: success
  type: dict
report_file:
  description: Where the verify report was written.
  returned: when report_file was given
  type: str
mlperf_report_beside_results:
  description: Always V(true); tells the report callback it may write its files into the verified directory.
  returned: when report_beside_results is true
  type: bool
ansible_stats:
  description: Custom stats (C(mlperf_verdict), C(mlperf_results_dir), C(mlperf_run_ids), C(mlperf_edition)),
    global (C(per_host=false)).
  returned: when publish_stats is true
  type: dict
"""
