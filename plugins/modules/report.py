#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: report
short_description: Write the HTML report, results rollups and system descriptions of an MLPerf Storage results tree
description:
  - Verifies O(results_dir) with the same rules engine as M(mlperf.storage.verify) and writes one
    self-contained HTML page (no scripts, no external resources) with the verdict and issues of every
    run and result, their metrics, per-host time-series plots (disk throughput and IOPS, CPU, memory,
    network) with the benchmark phases shaded, the start and end snapshot differences and the exact
    commands that ran.
  - Writes C(results.json) and C(results.csv) per model folder (the folder of a result's run
    directories) and per organisation (C(<division>/<org>/results/)), with the published columns.
  - Writes C(<division>/<org>/systems/<system>.yaml) from the host facts recorded with the runs.
    Fields describing the storage product cannot be measured and read C(FILL IN) unless given in
    O(system_description). A hand-written file is kept unless O(overwrite_systems=true).
  - Never gates the play; the verdict is returned for information. Runs on the controller.
  - Runs without telemetry (published trees, datasize leaves) are reported without plots and say so.
version_added: "0.1.0"
options:
  results_dir:
    description: Results tree (or one run directory) to report on.
    type: path
    required: true
    aliases: [path]
  html_file:
    description: Where to write the HTML page. Default C(<results_dir>/mlperf-report.html).
    type: path
  edition:
    description: Rules edition to judge by; default is what each run records, else V(3.0).
    type: str
  rollups:
    description: Write the C(results.json) and C(results.csv) rollups.
    type: bool
    default: true
  systems:
    description: Write C(systems/<system>.yaml) from host facts.
    type: bool
    default: true
  system_description:
    description:
      - Storage product fields merged over the generated system description, either the
        C(system_under_test) mapping's content or a mapping with that key.
      - "For example C({solution: {friendly_description: ..., usable_capacity_tib: 100}, deployment: onprem})."
    type: dict
    default: {}
  overwrite_systems:
    description: Replace a hand-written C(systems/<system>.yaml) (generated ones are always refreshed).
    type: bool
    default: false
  package_dir:
    description:
      - Also copy each organisation's C(results/), C(systems/) and C(submission.yaml) to
        C(<package_dir>/<division>/<org>/), the submission package layout. Must be outside O(results_dir).
    type: path
  plots:
    description: Render the time-series plots (matplotlib on the controller).
    type: bool
    default: true
  plot_format:
    description: Inline SVG or base64 PNG images.
    type: str
    default: svg
    choices: [svg, png]
  title:
    description: Page title. Default names the results directory.
    type: str
  publish_stats:
    description: Return C(ansible_stats) (C(mlperf_report_html), C(mlperf_report_verdict)) for AWX artifacts.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: In check mode nothing is written; the result names the files that would be.
requirements:
  - matplotlib on the controller (or in the execution environment) for the plots; without it the page is written without plots and says why.
notes:
  - The role C(mlperf.storage.report) wraps this action; C(mlperf.storage.report) the playbook reports on any tree.
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
"""

EXAMPLES = r"""
- name: Report on a results tree
  mlperf.storage.report:
    results_dir: /srv/mlperf/results

- name: Report with the storage product described, and export the submission package
  mlperf.storage.report:
    results_dir: /srv/mlperf/results
    html_file: /srv/www/mlperf/latest.html
    package_dir: /srv/mlperf/package
    system_description:
      solution:
        friendly_description: Two-node NFS appliance
        usable_capacity_tib: 120
        availability: available
      deployment: onprem
  register: report

- name: Show where the page is
  ansible.builtin.debug:
    msg: "{{ report.html_file }} ({{ report.verdict }})"
"""

RETURN = r"""
verdict:
  description: Worst verdict over all runs and results (information only; the report never fails on it).
  returned: success
  type: str
  sample: CLOSED
html_file:
  description: The written (in check mode, the would-be) HTML page.
  returned: success
  type: str
  sample: /srv/mlperf/results/mlperf-report.html
plots:
  description: Number of plots (images) on the page.
  returned: success
  type: int
  sample: 7
figures_drawn:
  description:
    - How many of the plots were drawn by this report. The others were drawn by an earlier report from the same
      data and kept in C(.mlperf-report-figures/) beside the page (a sealed run's figures do not change); figures
      of runs no longer in the tree are removed from there.
  returned: success
  type: int
  sample: 2
rollup_files:
  description: The C(results.json) / C(results.csv) files written.
  returned: success
  type: list
  elements: str
results:
  description: One row per result with the published columns.
  returned: success
  type: list
  elements: dict
systems:
  description: Per system the description file, whether it was written, and the fields still reading C(FILL IN).
  returned: success
  type: list
  elements: dict
package_files:
  description: Top-level entries copied into O(package_dir).
  returned: success
  type: list
  elements: str
notes:
  description: What the page could not show (no telemetry, no plotting library, results without one run folder).
  returned: success
  type: list
  elements: str
"""
