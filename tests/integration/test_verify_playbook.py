# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/verify.yml and scripts/mlperf-verify end to end, from the checkout."""
import contextlib
import hashlib
import json
import os
import stat
import subprocess
import sys

import pytest
import yaml

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


# -- verifying never changes the tree it checks ---------------------------------------------------------------

def tree_state(root):
    """Every entry below root (root included): type, mode, mtime, and the sha256 of each file or a link's target.

    Directory mtimes are in it, so a file created and removed again (a temporary file) is caught too; root
    ignores permission bits, so a read-only copy alone would not prove that nothing was written."""
    state = {}
    for dirpath, dirs, files in os.walk(root):
        for name in [""] + dirs + files if dirpath == root else dirs + files:
            path = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(path)
            entry = {"mode": st.st_mode, "mtime_ns": st.st_mtime_ns, "size": st.st_size}
            if stat.S_ISLNK(st.st_mode):
                entry["target"] = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    entry["sha256"] = hashlib.sha256(fh.read()).hexdigest()
            state[os.path.relpath(path, root)] = entry
    return state


@contextlib.contextmanager
def read_only(root, really=True):
    if not really:  # an operator's own, writable tree: only the digest can tell
        yield
        return
    subprocess.run(["chmod", "-R", "a-w", root], check=True)
    try:
        yield
    finally:
        subprocess.run(["chmod", "-R", "u+w", root], check=True)


def check_untouched(root, before):
    after = tree_state(root)
    added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    assert not added and not removed, "added %s, removed %s" % (added, removed)
    changed = sorted(rel for rel in before if before[rel] != after[rel])
    assert not changed, "changed below %s: %s" % (root, changed[:10])
    assert len(before) > 10  # the copy really holds the corpus runs


@pytest.mark.parametrize("read_only_copy", [True, False], ids=["read-only", "writable"])
def test_verify_playbook_leaves_the_tree_untouched(tmp_path, monkeypatch, read_only_copy):
    for key in list(os.environ):
        if key.startswith("MLPERF_RULES_REPORT_"):
            monkeypatch.delenv(key)
    tree = copy_corpus(tmp_path / "results", NEWFW_T, NEWFW_C)
    report_file = tmp_path / "out" / "verify.json"
    stray = os.path.join(REPO, "mlperf-rules-report.json")
    stray_before = os.path.exists(stray)
    with read_only(tree, read_only_copy):
        before = tree_state(tree)
        proc = playbook("-e", "verify_results_dir=%s" % tree, "-e", "verify_report=%s" % report_file)
        check_untouched(tree, before)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the verify report is where it was asked for; the callback, given no report_dir, wrote nothing anywhere
    assert json.loads(report_file.read_text())["verdict"] == "CLOSED"
    assert "MLPerf Storage rules verification: CLOSED" in proc.stdout
    assert "rules report: no files written" in proc.stdout
    assert os.path.exists(stray) == stray_before  # not in the directory the playbook ran from either
    assert "cannot write the report files" not in proc.stdout + proc.stderr


def test_verify_playbook_writes_the_callback_files_where_report_dir_says(tmp_path):
    tree = copy_corpus(tmp_path / "results", NEWFW_C, FARMGPU_K)
    report_file = tmp_path / "verify.json"
    callback_dir = tmp_path / "reports"
    with read_only(tree):
        before = tree_state(tree)
        proc = playbook("-e", "verify_results_dir=%s" % tree, "-e", "verify_report=%s" % report_file,
                        env={"MLPERF_RULES_REPORT_DIR": str(callback_dir)})
        check_untouched(tree, before)
    assert proc.returncode != 0  # INVALID gates, and still nothing was written into the tree
    assert json.loads(report_file.read_text())["verdict"] == "INVALID"
    full = json.loads((callback_dir / "mlperf-rules-report.json").read_text())
    assert full["verdict"] == "INVALID" and full["results_dir"] == tree
    assert (callback_dir / "mlperf-rules-report.junit.xml").read_text().startswith("<testsuites")
    assert "rules report: %s" % (callback_dir / "mlperf-rules-report.json") in proc.stdout


def test_verify_playbook_on_one_run_directory_leaves_its_parent_alone(tmp_path, monkeypatch):
    """A single run directory was reported into its parent before: the parent is part of the checked tree."""
    for key in list(os.environ):
        if key.startswith("MLPERF_RULES_REPORT_"):
            monkeypatch.delenv(key)
    tree = copy_corpus(tmp_path / "results", NEWFW_C)
    runs = os.path.join(tree, NEWFW_C)
    run_dir = os.path.join(runs, sorted(d for d in os.listdir(runs) if os.path.isdir(os.path.join(runs, d)))[0])
    with read_only(tree):
        before = tree_state(tree)
        proc = playbook("-e", "verify_results_dir=%s" % run_dir)
        check_untouched(tree, before)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rules report: no files written" in proc.stdout


def test_cli_script_leaves_a_read_only_tree_untouched(tmp_path):
    script = os.path.join(REPO, "scripts", "mlperf-verify")
    tree = copy_corpus(tmp_path / "results", NEWFW_C, FARMGPU_K)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out = tmp_path / "out"
    with read_only(tree):
        before = tree_state(tree)
        plain = subprocess.run([sys.executable, script, tree], cwd=str(cwd), capture_output=True, text=True)
        check_untouched(tree, before)
        asked = subprocess.run([sys.executable, script, tree, "--report", str(out / "r.json"),
                                "--full-report", str(out / "full.json"), "--junit", str(out / "r.xml")],
                               cwd=str(cwd), capture_output=True, text=True)
        check_untouched(tree, before)
    assert plain.returncode == 1 and "INVALID" in plain.stdout, plain.stderr
    assert os.listdir(str(cwd)) == []  # nothing asked, nothing written
    assert asked.returncode == 1, asked.stderr
    assert sorted(os.listdir(str(out))) == ["full.json", "r.json", "r.xml"]
    assert json.loads((out / "full.json").read_text())["results_dir"] == tree


def test_only_the_benchmark_playbooks_let_the_callback_write_beside_their_tree():
    """The results role (run_* playbooks) asks for the report next to the tree it made; verify.yml never does."""
    def verify_tasks(path):
        with open(os.path.join(REPO, path), encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        tasks = doc[0]["tasks"] if isinstance(doc[0], dict) and "tasks" in doc[0] else doc
        return [t["mlperf.storage.verify"] for t in tasks if "mlperf.storage.verify" in t]

    (results,) = verify_tasks("roles/results/tasks/main.yml")
    assert results["report_beside_results"] is True
    (verify,) = verify_tasks("playbooks/verify.yml")
    assert verify["report_beside_results"] is False
    assert "report_file" in verify  # the verify report goes where verify_report says, nowhere else


def test_a_verify_task_of_a_run_playbook_gets_the_report_beside_its_tree(tmp_path, monkeypatch):
    """The wiring the results role uses, without running a benchmark: report_beside_results reaches the callback."""
    for key in list(os.environ):
        if key.startswith("MLPERF_RULES_REPORT_"):
            monkeypatch.delenv(key)
    tree = copy_corpus(tmp_path / "results", NEWFW_C)
    play = tmp_path / "play.yml"
    play.write_text("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
                    "    - mlperf.storage.verify:\n        path: %s\n        report_beside_results: %s\n"
                    % (tree, "'{{ beside }}'"))
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1")
    for beside in ("false", "true"):
        proc = subprocess.run([PLAYBOOK, str(play), "-e", "beside=%s" % beside], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        written = os.path.exists(os.path.join(tree, "mlperf-rules-report.json"))
        assert written == (beside == "true"), proc.stdout
    report = json.loads(open(os.path.join(tree, "mlperf-rules-report.json"), encoding="utf-8").read())
    assert report["results_dir"] == tree and report["verdict"] == "CLOSED"
    assert os.path.exists(os.path.join(tree, "mlperf-rules-report.junit.xml"))
    assert "rules report: %s" % os.path.join(tree, "mlperf-rules-report.json") in proc.stdout


def test_docs_name_every_check_by_its_rule():
    """docs/verify.md has a row for every registered check's rule id (what OPEN and INVALID mean for it)."""
    from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.checks import all_checks
    run_checks, group_checks = all_checks()
    with open(os.path.join(REPO, "docs", "verify.md"), encoding="utf-8") as fh:
        rows = [line for line in fh if line.startswith("| `")]
    ids = sorted(set(spec.rule_id for spec in run_checks + group_checks))
    assert len(ids) > 40
    undocumented = [rid for rid in ids if not any("`%s`" % rid in row.split("|")[1] for row in rows)]
    assert undocumented == []
