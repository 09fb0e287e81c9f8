# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Aggregate callback: print the rules verdict table and write JSON + JUnit reports. Never gates."""
from __future__ import annotations

DOCUMENTATION = r"""
name: rules_report
type: aggregate
short_description: Print and write the MLPerf Storage rules verification report
description:
  - At the end of a playbook prints one table (run, benchmark, model, verdict, key metrics, first
    issues, then one line per result) and writes a JSON report and a JUnit XML file (one test case
    per check) into O(report_dir).
  - Without O(report_dir) it never writes into a tree it was only asked to verify (C(playbooks/verify.yml),
    a plain C(mlperf.storage.verify) task). The table is printed, no file is written, and a line says how to
    keep the files. Only a verification whose task set C(report_beside_results) (the collection's benchmark
    playbooks, verifying the tree they just made) gets its files written next to the verified results.
  - It reports what C(mlperf.storage.verify) returned (the C(mlperf_verify) key of its task result).
    When no such result was seen but the custom stats name a results directory
    (C(mlperf_results_dir)), it verifies that directory itself.
  - It never fails the run; the verify task is the gate.
version_added: "0.1.0"
requirements:
  - enable in ansible.cfg with C(callbacks_enabled = mlperf.storage.rules_report)
options:
  report_dir:
    description:
      - Directory for the JSON and JUnit files (created when missing).
      - Unset, files are written only for a verification whose C(mlperf.storage.verify) task set
        C(report_beside_results=true), into the verified results directory itself (the parent directory
        when a single run directory was verified); every other verification writes no file.
    type: path
    env:
      - name: MLPERF_RULES_REPORT_DIR
    ini:
      - section: mlperf_rules_report
        key: report_dir
    vars:
      - name: mlperf_rules_report_dir
  report_name:
    description: Base name of the written files (C(<name>.json) and C(<name>.junit.xml)).
    type: str
    default: mlperf-rules-report
    env:
      - name: MLPERF_RULES_REPORT_NAME
    ini:
      - section: mlperf_rules_report
        key: report_name
    vars:
      - name: mlperf_rules_report_name
  write_files:
    description: Write the JSON and JUnit files (the table is printed either way).
    type: bool
    default: true
    env:
      - name: MLPERF_RULES_REPORT_WRITE
    ini:
      - section: mlperf_rules_report
        key: write_files
    vars:
      - name: mlperf_rules_report_write
  max_issues:
    description: Issues printed under each run and result (worst first).
    type: int
    default: 2
    env:
      - name: MLPERF_RULES_REPORT_MAX_ISSUES
    ini:
      - section: mlperf_rules_report
        key: max_issues
    vars:
      - name: mlperf_rules_report_max_issues
  phase_runs:
    description: List datasize and datagen leaves in the table too.
    type: bool
    default: true
    env:
      - name: MLPERF_RULES_REPORT_PHASE_RUNS
    ini:
      - section: mlperf_rules_report
        key: phase_runs
    vars:
      - name: mlperf_rules_report_phase_runs
"""

import os

from ansible.plugins.callback import CallbackBase

try:
    from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.report import (
        junit_xml, render_table, write_atomic, write_json)
    _IMPORT_ERROR = None
except ImportError as exc:  # reported once at the end instead of breaking the play
    _IMPORT_ERROR = exc

RESULT_KEY = "mlperf_verify"
# Set by mlperf.storage.verify with report_beside_results=true: the play made this tree and may write into it.
BESIDE_KEY = "mlperf_report_beside_results"


def _writable_dir(path):
    """Honour a directory's permission bits even for root: a read-only tree stays untouched."""
    try:
        st = os.stat(path)
    except OSError:
        return True  # created on write
    return bool(st.st_mode & 0o222) and os.access(path, os.W_OK)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "mlperf.storage.rules_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self.reports = {}  # results_dir -> report dict (last one wins)
        self.beside = set()  # results dirs whose verifying task allowed writing into them

    # -- collecting ------------------------------------------------------------------------
    def _collect(self, result):
        data = getattr(result, "_result", None)
        if not isinstance(data, dict):
            return
        report = data.get(RESULT_KEY)
        if isinstance(report, dict) and report.get("results_dir"):
            path = report["results_dir"]
            self.reports[path] = report
            if data.get(BESIDE_KEY) is True:
                self.beside.add(path)
            else:
                self.beside.discard(path)

    def v2_runner_on_ok(self, result):
        self._collect(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._collect(result)

    # -- reporting -------------------------------------------------------------------------
    def _reports_from_stats(self, stats):
        custom = getattr(stats, "custom", None) or {}
        data = custom.get("_run") if isinstance(custom, dict) else None
        path = data.get("mlperf_results_dir") if isinstance(data, dict) else None
        if not path or path in self.reports or not os.path.exists(path):
            return
        from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_tree
        self.reports[path] = verify_tree(path, edition=data.get("mlperf_edition")).to_dict()

    def _target_dir(self, report):
        """Where the files go: report_dir, else beside a tree the play made, else None (nothing is written)."""
        configured = self.get_option("report_dir")
        if configured:
            return configured
        path = report.get("results_dir")
        if path not in self.beside:
            return None
        runs = report.get("runs") or []
        if len(runs) == 1 and runs[0].get("path") in (None, ".", os.path.basename(path or "")):
            return os.path.dirname(path)
        return path

    def _write(self, report, multiple):
        name = self.get_option("report_name")
        target = self._target_dir(report)
        if target is None:
            return None
        if not _writable_dir(target):
            raise OSError("%s is read-only (no write permission bits); set report_dir" % target)
        if multiple and self.get_option("report_dir"):
            slug = (report.get("results_dir") or "results").strip("/").replace("/", "_")
            name = "%s-%s" % (name, slug)
        json_path = os.path.join(target, name + ".json")
        xml_path = os.path.join(target, name + ".junit.xml")
        write_json(json_path, report)
        write_atomic(xml_path, junit_xml(report) + "\n")
        return json_path, xml_path

    def v2_playbook_on_stats(self, stats):
        if _IMPORT_ERROR is not None:
            self._display.warning("mlperf.storage.rules_report: cannot load the rules engine: %s" % _IMPORT_ERROR)
            return
        try:
            self._reports_from_stats(stats)
        except Exception as exc:  # a report problem must never change the play's outcome
            self._display.warning("mlperf.storage.rules_report: verifying from stats failed: %s" % exc)
        if not self.reports:
            return
        multiple = len(self.reports) > 1
        for path in sorted(self.reports):
            report = self.reports[path]
            self._display.display(render_table(report, max_issues=self.get_option("max_issues"),
                                               include_phase_runs=self.get_option("phase_runs")))
            if not self.get_option("write_files"):
                continue
            try:
                written = self._write(report, multiple)
                if written is None:
                    self._display.display("rules report: no files written (a verified tree is never written to); "
                                          "set report_dir (MLPERF_RULES_REPORT_DIR) to keep the JSON and JUnit")
                else:
                    self._display.display("rules report: %s, %s" % written)
            except OSError as exc:
                self._display.warning("mlperf.storage.rules_report: cannot write the report files for %s: %s"
                                      % (path, exc))
