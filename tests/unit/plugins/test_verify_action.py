# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mlperf.storage.verify action plugin, run in a tiny playbook through ansible-runner (as AWX runs it)."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rules"))
from _rules_helpers import FARMGPU_K, NEWFW_C, copy_corpus  # noqa: E402

from harness.plays import artifact_data, assert_task, run_local_play  # noqa: E402

ansible_runner = pytest.importorskip("ansible_runner")


def run_play(tmp_path, tasks, extravars=None):
    """Runs ``tasks`` with the rules report callback on; returns the runner result, its artifacts and output."""
    result, stdout = run_local_play(tmp_path / "runner", "verify", tasks, extravars, {
        "ANSIBLE_CALLBACKS_ENABLED": "mlperf.storage.rules_report",
        "MLPERF_RULES_REPORT_DIR": str(tmp_path / "reports")})
    return result, artifact_data(result), stdout


def verify(path="{{ results }}", name="Verify", **options):
    """The verify task (as a dict), registered as ``v``."""
    return {"name": name, "mlperf.storage.verify": dict(path=path, **options), "register": "v"}


def test_closed_tree_passes_and_publishes_artifacts(tmp_path):
    tree = copy_corpus(tmp_path / "results", NEWFW_C)
    result, artifacts, stdout = run_play(tmp_path, [
        verify(report_file="{{ report }}"),
        assert_task("v.verdict == 'CLOSED'", "v.run_ids | length == 2", "v.submissions[0].verdict == 'CLOSED'",
                    "v.mlperf_verify.runs | length == 2", "not v.changed", name="Check what the task returned"),
    ], {"results": tree, "report": str(tmp_path / "verify.json")})
    assert result.rc == 0, stdout
    assert artifacts["mlperf_verdict"] == "CLOSED"
    assert artifacts["mlperf_results_dir"] == tree
    assert sorted(artifacts["mlperf_run_ids"]) == ["checkpointing_run_llama3-8b_20260713_162640",
                                                   "checkpointing_run_llama3-8b_20260713_162955"]
    report = json.loads((tmp_path / "verify.json").read_text())
    assert [r["verdict"] for r in report["runs"]] == ["CLOSED", "CLOSED"]
    # the callback printed the table and wrote its files
    assert "MLPerf Storage rules verification: CLOSED" in stdout
    assert (tmp_path / "reports" / "mlperf-rules-report.junit.xml").exists()


def test_invalid_tree_fails_the_task_with_the_reason(tmp_path):
    tree = copy_corpus(tmp_path / "results", FARMGPU_K)
    result, artifacts, stdout = run_play(tmp_path, [verify()], {"results": tree})
    assert result.rc != 0 and result.status == "failed"
    assert "MLPerf Storage verification: INVALID" in stdout
    assert "option 1 lost 24 of 48 rank result files" in stdout
    # Ansible aggregates custom stats from successful tasks only
    assert not (artifacts or {}).get("mlperf_verdict")
    # the callback still reports the failed task's verification
    assert "INVALID 6.3.4" in stdout


def test_publish_then_gate_keeps_the_invalid_verdict_in_the_artifacts(tmp_path):
    tree = copy_corpus(tmp_path / "results", FARMGPU_K)
    result, artifacts, stdout = run_play(tmp_path, [
        verify(fail_on_invalid=False),
        {"name": "Gate", "ansible.builtin.fail": {"msg": "{{ v.msg }}"}, "when": "v.verdict == 'INVALID'"},
    ], {"results": tree})
    assert result.rc != 0
    assert artifacts["mlperf_verdict"] == "INVALID"
    assert artifacts["mlperf_run_ids"] == ["kv_cache_run_llama3.1-70b-instruct_20260709_215001"]


def test_bad_arguments_are_clear(tmp_path):
    result, _, stdout = run_play(tmp_path, [verify("/nonexistent/results", name="Verify a path that is not there")])
    assert result.rc != 0
    assert "results path /nonexistent/results does not exist" in stdout
    assert "Traceback" not in stdout
