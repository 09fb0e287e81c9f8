"""playbooks/verify.yml and scripts/mlperf-verify end to end, from the checkout."""
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "unit", "rules"))
from _rules_helpers import FARMGPU_K, NEWFW_C, NEWFW_T, REPO, copy_corpus  # noqa: E402

BIN = os.path.dirname(sys.executable)
PLAYBOOK = os.path.join(BIN, "ansible-playbook")


def playbook(*extra, env=None):
    if not os.path.exists(PLAYBOOK):
        pytest.skip("ansible-playbook not installed next to %s" % sys.executable)
    full_env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1",
                    **(env or {}))
    return subprocess.run([PLAYBOOK, "mlperf.storage.verify", *extra], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=300)


def test_closed_tree_exits_zero_and_writes_the_report(tmp_path):
    tree = copy_corpus(tmp_path / "results", NEWFW_T, NEWFW_C)
    report_file = tmp_path / "verify.json"
    proc = playbook("-e", "verify_results_dir=%s" % tree, "-e", "verify_report=%s" % report_file,
                    env={"MLPERF_RULES_REPORT_DIR": str(tmp_path / "callback")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(report_file.read_text())
    assert report["verdict"] == "CLOSED"
    assert len(report["runs"]) == 10
    run = report["runs"][0]
    assert set(run) >= {"path", "benchmark", "model", "command", "verdict", "issues"}
    assert not os.path.isabs(run["path"]) and os.path.isdir(os.path.join(tree, run["path"]))
    subs = {(s["benchmark"], s["model"]): s for s in report["submissions"]}
    assert set(subs) == {("training", "unet3d"), ("checkpointing", "llama3-8b")}
    assert subs[("training", "unet3d")]["metrics"]["read_bw_GiB_per_s"] > 0
    assert "MLPerf Storage rules verification: CLOSED" in proc.stdout
    assert (tmp_path / "callback" / "mlperf-rules-report.junit.xml").exists()


def test_invalid_tree_exits_non_zero(tmp_path):
    tree = copy_corpus(tmp_path / "results", NEWFW_C, FARMGPU_K)
    report_file = tmp_path / "verify.json"
    proc = playbook("-e", "verify_results_dir=%s" % tree, "-e", "verify_report=%s" % report_file,
                    env={"MLPERF_RULES_REPORT_WRITE": "false"})
    assert proc.returncode != 0
    assert "partial_failure" in proc.stdout
    report = json.loads(report_file.read_text())
    assert report["verdict"] == "INVALID"
    assert [s["verdict"] for s in report["submissions"]] == ["CLOSED", "INVALID"]


def test_missing_results_dir_is_a_clear_error():
    proc = playbook()
    assert proc.returncode != 0
    assert "-e verify_results_dir=DIR" in proc.stdout


def test_cli_script_exit_codes(tmp_path):
    script = os.path.join(REPO, "scripts", "mlperf-verify")
    good = copy_corpus(tmp_path / "good", NEWFW_C)
    bad = copy_corpus(tmp_path / "bad", FARMGPU_K)
    ok = subprocess.run([sys.executable, script, good, "--report", str(tmp_path / "r.json"),
                         "--junit", str(tmp_path / "r.xml")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads((tmp_path / "r.json").read_text())["verdict"] == "CLOSED"
    assert (tmp_path / "r.xml").read_text().startswith("<testsuites")
    fail = subprocess.run([sys.executable, script, bad], capture_output=True, text=True)
    assert fail.returncode == 1 and "INVALID" in fail.stdout
    usage = subprocess.run([sys.executable, script, str(tmp_path / "nope")], capture_output=True, text=True)
    assert usage.returncode == 2 and "does not exist" in usage.stderr
