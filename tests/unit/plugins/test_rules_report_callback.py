# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Golden-output test of the mlperf.storage.rules_report callback, loaded through Ansible's loader."""
import json
import os
import sys
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from unittest import mock

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rules"))
from _rules_helpers import FARMGPU_K, NEWFW_C, copy_corpus  # noqa: E402

from ansible.plugins.loader import callback_loader  # noqa: E402

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_tree  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "rules_report_table.txt")


@pytest.fixture
def tree(tmp_path):
    # NewFW's split checkpointing result (CLOSED with warnings) and FarmGPU's partial kv run (INVALID)
    return copy_corpus(tmp_path / "results", NEWFW_C, FARMGPU_K)


def load_callback(**options):
    cb = callback_loader.get("mlperf.storage.rules_report")
    assert cb is not None, "callback mlperf.storage.rules_report not found through the collection loader"
    cb.set_options(direct=options)
    cb._display = mock.MagicMock()
    return cb


def displayed(cb):
    return "\n".join(call.args[0] for call in cb._display.display.call_args_list)


def task_result(payload):
    return SimpleNamespace(_result=payload)


def test_golden_table_and_written_reports(tree, tmp_path):
    report = verify_tree(tree).to_dict()
    out_dir = tmp_path / "reports"
    cb = load_callback(report_dir=str(out_dir), max_issues=2)
    cb.v2_runner_on_ok(task_result({"changed": False}))  # unrelated tasks are ignored
    cb.v2_runner_on_failed(task_result({"mlperf_verify": report, "failed": True}))
    cb.v2_playbook_on_stats(SimpleNamespace(custom={}))

    text = displayed(cb).replace(tree, "<RESULTS>").replace(str(out_dir), "<REPORTS>")
    if os.environ.get("UPDATE_GOLDEN"):
        with open(GOLDEN, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    with open(GOLDEN, encoding="utf-8") as fh:
        assert text + "\n" == fh.read()

    written = json.loads((out_dir / "mlperf-rules-report.json").read_text())
    assert written["verdict"] == "INVALID" and written["results_dir"] == tree
    xml = ET.fromstring((out_dir / "mlperf-rules-report.junit.xml").read_text())
    suites = {s.get("name"): s for s in xml.findall("testsuite")}
    kv = [s for name, s in suites.items() if name.startswith("run:") and "FarmGPU" in name][0]
    failures = kv.findall("testcase/failure")
    assert [f.get("type") for f in failures] == ["INVALID"]
    assert "option 1 lost 24 of 48" in failures[0].text
    ckpt = [s for name, s in suites.items() if name.startswith("run:") and "20260713_162640" in name][0]
    assert ckpt.get("failures") == "0"
    # one test case per check that ran
    assert int(ckpt.get("tests")) == len([c for c in report["runs"] if "20260713_162640" in c["path"]][0]["checks"])
    assert xml.get("failures") == str(sum(int(s.get("failures")) for s in suites.values()))
    cb._display.warning.assert_not_called()


def test_reports_from_stats_when_no_task_result_was_seen(tree, tmp_path):
    cb = load_callback(report_dir=str(tmp_path / "out"), write_files=False)
    cb.v2_playbook_on_stats(SimpleNamespace(custom={"_run": {"mlperf_results_dir": tree, "mlperf_verdict": "x"}}))
    text = displayed(cb)
    assert "MLPerf Storage rules verification: INVALID" in text
    assert not (tmp_path / "out").exists()


def test_a_verified_tree_is_never_written_without_report_dir(tree):
    """No report_dir and no report_beside_results from the task: the table only, no file anywhere in the tree."""
    report = verify_tree(tree).to_dict()
    before = sorted(os.path.relpath(os.path.join(d, f), tree) for d, _, files in os.walk(tree) for f in files)
    cb = load_callback()
    cb.v2_runner_on_ok(task_result({"mlperf_verify": report}))
    cb.v2_playbook_on_stats(SimpleNamespace(custom=None))
    after = sorted(os.path.relpath(os.path.join(d, f), tree) for d, _, files in os.walk(tree) for f in files)
    assert after == before
    text = displayed(cb)
    assert "MLPerf Storage rules verification: INVALID" in text
    assert "no files written" in text and "MLPERF_RULES_REPORT_DIR" in text
    cb._display.warning.assert_not_called()


def test_report_beside_results_writes_into_the_tree_the_play_made(tree):
    report = verify_tree(tree).to_dict()
    cb = load_callback()
    cb.v2_runner_on_ok(task_result({"mlperf_verify": report, "mlperf_report_beside_results": True}))
    cb.v2_playbook_on_stats(SimpleNamespace(custom=None))
    written = json.loads(open(os.path.join(tree, "mlperf-rules-report.json"), encoding="utf-8").read())
    assert written["results_dir"] == tree and written["verdict"] == report["verdict"]
    assert ET.parse(os.path.join(tree, "mlperf-rules-report.junit.xml")).getroot().tag == "testsuites"


def test_report_dir_wins_over_report_beside_results(tree, tmp_path):
    report = verify_tree(tree).to_dict()
    cb = load_callback(report_dir=str(tmp_path / "elsewhere"))
    cb.v2_runner_on_ok(task_result({"mlperf_verify": report, "mlperf_report_beside_results": True}))
    cb.v2_playbook_on_stats(SimpleNamespace(custom=None))
    assert (tmp_path / "elsewhere" / "mlperf-rules-report.json").exists()
    assert not os.path.exists(os.path.join(tree, "mlperf-rules-report.json"))


def test_a_later_plain_verification_withdraws_the_permission(tree):
    report = verify_tree(tree).to_dict()
    cb = load_callback()
    cb.v2_runner_on_ok(task_result({"mlperf_verify": report, "mlperf_report_beside_results": True}))
    cb.v2_runner_on_ok(task_result({"mlperf_verify": report}))
    cb.v2_playbook_on_stats(SimpleNamespace(custom=None))
    assert not os.path.exists(os.path.join(tree, "mlperf-rules-report.json"))


def test_never_raises_and_leaves_read_only_trees_alone(tree):
    report = verify_tree(tree).to_dict()
    os.chmod(tree, 0o555)
    try:
        cb = load_callback()  # the task allowed writing beside the results, but the tree is read-only
        cb.v2_runner_on_ok(task_result({"mlperf_verify": report, "mlperf_report_beside_results": True}))
        cb.v2_playbook_on_stats(SimpleNamespace(custom=None))
    finally:
        os.chmod(tree, 0o755)
    assert not os.path.exists(os.path.join(tree, "mlperf-rules-report.json"))
    assert "read-only" in cb._display.warning.call_args.args[0]


def test_quiet_without_any_verification():
    cb = load_callback()
    cb.v2_playbook_on_stats(SimpleNamespace(custom={}))
    cb._display.display.assert_not_called()
