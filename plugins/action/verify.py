# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side gate: verify a results tree (or one run dir) against the MLPerf Storage rules."""
from __future__ import annotations

import os

from ansible_collections.mlperf.storage.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import EditionError, verify_tree
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.report import (
    problems, verify_report_document, write_json)

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True, "aliases": ["results_dir"]},
    "edition": {"type": "str"},
    "package_checks": {"type": "bool", "default": False},
    "fail_on_invalid": {"type": "bool", "default": True},
    "fail_on_open": {"type": "bool", "default": False},
    "report_file": {"type": "path"},
    "publish_stats": {"type": "bool", "default": True},
    "report_beside_results": {"type": "bool", "default": False},
}

# Result key the rules_report callback reads: this verification is of a tree the play itself made, so the
# callback may write its JSON and JUnit files into it. Without it the callback never writes into a verified tree.
BESIDE_KEY = "mlperf_report_beside_results"


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, result, args, task_vars):
        path = os.path.abspath(os.path.expanduser(args["path"]))
        result["changed"] = False
        if not os.path.exists(path):
            result.update(failed=True, msg="results path %s does not exist; give the results directory (or one run "
                                           "directory) the benchmark wrote" % path)
            return result
        try:
            report = verify_tree(path, edition=args.get("edition"), package_checks=args["package_checks"])
        except EditionError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        data = report.to_dict()
        verdict = data["verdict"]
        run_ids = report.run_ids

        result.update(
            verdict=verdict,
            results_dir=path,
            edition=data["edition"],
            counts=data["counts"],
            run_ids=run_ids,
            submissions=[{k: s[k] for k in ("division", "org", "system", "benchmark", "model", "verdict", "metrics")}
                         for s in data["submissions"]],
            mlperf_verify=data,
        )
        if args["report_beside_results"]:
            result[BESIDE_KEY] = True
        if args.get("report_file"):
            report_file = os.path.abspath(os.path.expanduser(args["report_file"]))
            write_json(report_file, verify_report_document(data))
            result["report_file"] = report_file
        if args["publish_stats"]:
            # What set_stats returns; Ansible aggregates it only from tasks that did not fail.
            result["ansible_stats"] = {
                "data": {"mlperf_verdict": verdict, "mlperf_results_dir": path, "mlperf_run_ids": run_ids,
                         "mlperf_edition": data["edition"]},
                "per_host": False,
                "aggregate": True,
            }
        failing = (verdict == "INVALID" and args["fail_on_invalid"]) or (
            verdict in ("INVALID", "OPEN") and args["fail_on_open"])
        result["msg"] = _summary_message(data, verdict, len(run_ids))
        if failing:
            result["failed"] = True
        return result


def _summary_message(data, verdict, n_runs):
    """One line: the verdict and, unless CLOSED, the first reasons with where they were found."""
    head = "MLPerf Storage verification: %s (%d runs)" % (verdict, n_runs)
    if verdict == "CLOSED":
        return head
    reasons = [data["error"]] if data.get("error") else []
    for subject in data["runs"] + data["submissions"]:
        for issue in problems(subject.get("issues") or []):
            if issue["validation"] == verdict:
                where = subject.get("path") or "/".join(
                    str(subject.get(k)) for k in ("division", "org", "system", "benchmark", "model") if subject.get(k))
                reasons.append("%s: %s" % (where, issue["message"]))
                break
        if len(reasons) >= 3:
            break
    return "%s. %s" % (head, " | ".join(reasons))
