"""The mlperf.storage.verify action plugin, run in a tiny playbook through ansible-runner (as AWX runs it)."""
import json
import os
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rules"))
from _rules_helpers import FARMGPU_K, NEWFW_C, REPO, copy_corpus  # noqa: E402

ansible_runner = pytest.importorskip("ansible_runner")


def run_play(tmp_path, tasks, extravars=None):
    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    (private / "project" / "play.yml").write_text(textwrap.dedent("""\
        - name: verify
          hosts: localhost
          connection: local
          gather_facts: false
          tasks:
        """) + textwrap.indent(textwrap.dedent(tasks), "    "))
    env = {
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO, ".collections"),
        "ANSIBLE_CALLBACKS_ENABLED": "mlperf.storage.rules_report",
        "MLPERF_RULES_REPORT_DIR": str(tmp_path / "reports"),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    }
    result = ansible_runner.run(private_data_dir=str(private), playbook="play.yml",
                                inventory="localhost ansible_connection=local ansible_python_interpreter=%s"
                                % sys.executable,
                                envvars=env, extravars=extravars or {}, quiet=True)
    stats = [e for e in result.events if e.get("event") == "playbook_on_stats"]
    artifacts = stats[0]["event_data"].get("artifact_data") if stats else None
    stdout = result.stdout.read()
    return result, artifacts, stdout


def test_closed_tree_passes_and_publishes_artifacts(tmp_path):
    tree = copy_corpus(tmp_path / "results", NEWFW_C)
    result, artifacts, stdout = run_play(tmp_path, """\
        - name: Verify
          mlperf.storage.verify:
            path: "{{ results }}"
            report_file: "{{ report }}"
          register: v
        - name: Check what the task returned
          ansible.builtin.assert:
            that:
              - v.verdict == 'CLOSED'
              - v.run_ids | length == 2
              - v.submissions[0].verdict == 'CLOSED'
              - v.mlperf_verify.runs | length == 2
              - not v.changed
        """, {"results": tree, "report": str(tmp_path / "verify.json")})
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
    result, artifacts, stdout = run_play(tmp_path, """\
        - name: Verify
          mlperf.storage.verify:
            path: "{{ results }}"
        """, {"results": tree})
    assert result.rc != 0 and result.status == "failed"
    assert "MLPerf Storage verification: INVALID" in stdout
    assert "option 1 lost 24 of 48 rank result files" in stdout
    # Ansible aggregates custom stats from successful tasks only
    assert not (artifacts or {}).get("mlperf_verdict")
    # the callback still reports the failed task's verification
    assert "INVALID 6.3.4" in stdout


def test_publish_then_gate_keeps_the_invalid_verdict_in_the_artifacts(tmp_path):
    tree = copy_corpus(tmp_path / "results", FARMGPU_K)
    result, artifacts, stdout = run_play(tmp_path, """\
        - name: Verify
          mlperf.storage.verify:
            path: "{{ results }}"
            fail_on_invalid: false
          register: v
        - name: Gate
          ansible.builtin.fail:
            msg: "{{ v.msg }}"
          when: v.verdict == 'INVALID'
        """, {"results": tree})
    assert result.rc != 0
    assert artifacts["mlperf_verdict"] == "INVALID"
    assert artifacts["mlperf_run_ids"] == ["kv_cache_run_llama3.1-70b-instruct_20260709_215001"]


def test_bad_arguments_are_clear(tmp_path):
    result, _, stdout = run_play(tmp_path, """\
        - name: Verify a path that is not there
          mlperf.storage.verify:
            path: /nonexistent/results
        """)
    assert result.rc != 0
    assert "results path /nonexistent/results does not exist" in stdout
    assert "Traceback" not in stdout
