# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mutated copies of published results fail for the right reason; bad input never raises."""
import glob
import hashlib
import os
import shutil

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_run_dir, verify_tree

from _rules_helpers import (ALLUXIO_T, NEWFW_C, NEWFW_K, NEWFW_T, NEWFW_V, bad, copy_corpus, edit_json,
                            edit_metadata, load_json, metadata_path, rule_ids, run_by_path, submission, warnings)

RUN = "20260712_125218"  # a measured (not warm-up) NewFW unet3d run


@pytest.fixture
def newfw_training(tmp_path):
    root = copy_corpus(tmp_path, NEWFW_T)
    return root, os.path.join(root, NEWFW_T)


def invalid_issue(run_dir, rule_id):
    """Verifies ``run_dir``, which must come out INVALID, and returns its first INVALID issue of ``rule_id``."""
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "INVALID"
    return [i for i in bad(run["issues"]) if i["rule_id"] == rule_id][0]


def invalid_submission(report, benchmark, rule_id):
    """The ``benchmark`` submission of a verify_tree report (a dict), which must be INVALID with a ``rule_id``
    issue."""
    sub = submission(report, benchmark)
    assert sub["verdict"] == "INVALID"
    assert rule_id in rule_ids(sub["issues"])
    return sub


def _set_files(run_dir, n):
    def meta(d):
        d["parameters"]["dataset"]["num_files_train"] = str(n)
        d["override_parameters"]["dataset.num_files_train"] = str(n)
    edit_metadata(run_dir, meta)
    edit_json(os.path.join(run_dir, "summary.json"), lambda s: s.__setitem__("num_files_train", n))


def test_unmodified_copy_is_closed(newfw_training):
    root, _ = newfw_training
    rep = verify_tree(root).to_dict()
    assert rep["verdict"] == "CLOSED"
    assert [s["verdict"] for s in rep["submissions"]] == ["CLOSED"]


def test_removed_run_makes_the_result_invalid(newfw_training):
    root, base = newfw_training
    shutil.rmtree(os.path.join(base, "run", RUN))
    rep = verify_tree(root).to_dict()
    sub = invalid_submission(rep, "training", "2.1.17")
    count = [i for i in bad(sub["issues"]) if i["rule_id"] == "2.1.17"][0]
    assert (count["expected"], count["actual"]) == (6, 5)
    # the hole in the sequence is reported as a gap between the neighbours of the removed run
    gaps = [i for i in bad(sub["issues"]) if i["rule_id"] == "2.1.18"]
    assert len(gaps) == 1 and "20260712_123718 and 20260712_130717" in gaps[0]["message"]
    # every remaining run is still CLOSED on its own
    assert all(r["verdict"] == "CLOSED" for r in rep["runs"])


def test_disallowed_override_is_invalid_with_a_hint(newfw_training):
    root, base = newfw_training
    run_dir = os.path.join(base, "run", RUN)
    edit_metadata(run_dir, lambda d: d["override_parameters"].__setitem__("reader.read_thread", "8"))
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "INVALID"
    issue = [i for i in bad(run["issues"]) if i["parameter"] == "reader.read_thread"][0]
    assert issue["rule_id"] == "3.6.2"
    assert "did you mean reader.read_threads?" in issue["message"]
    invalid_submission(verify_tree(root).to_dict(), "training", "SUB-RUNS")


def test_changed_required_value_is_invalid(newfw_training):
    root, base = newfw_training
    run_dir = os.path.join(base, "run", RUN)

    def shorter(d):
        d["parameters"]["train"]["epochs"] = "3"
        d["override_parameters"]["train.epochs"] = "3"
    edit_metadata(run_dir, shorter)
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "INVALID"
    assert {"3.6.2", "3.6.3"} <= set(rule_ids(run["issues"]))
    ref = [i for i in bad(run["issues"]) if i["rule_id"] == "3.6.3"][0]
    assert (ref["parameter"], ref["expected"], ref["actual"]) == ("train.epochs", 5, "3")


def test_open_only_override_makes_the_run_open_and_flags_the_closed_placement(newfw_training):
    root, base = newfw_training
    run_dir = os.path.join(base, "run", RUN)

    def fmt(d):
        d["override_parameters"]["dataset.format"] = "npy"
        d["parameters"]["dataset"]["format"] = "npy"
    edit_metadata(run_dir, fmt)
    rep = verify_tree(root).to_dict()
    run = run_by_path(rep, RUN)
    assert run["verdict"] == "OPEN"
    assert rule_ids(run["issues"], "OPEN") == ["3.6.2", "3.6.3"]
    sub = submission(rep, "training")
    assert sub["verdict"] == "OPEN"
    assert "DIV-02" in rule_ids(sub["issues"], "OPEN")


def test_num_files_train_below_the_datasize_requirement(newfw_training):
    _, base = newfw_training
    run_dir = os.path.join(base, "run", RUN)
    _set_files(run_dir, 13000)  # 5 x 377.24 GiB / 146600628 B -> 13815 files required
    issue = invalid_issue(run_dir, "3.1.2")
    assert issue["actual"] == 13000 and issue["expected"] == ">= 13815"
    assert "memory dominates" in issue["message"]


def test_run_reading_more_files_than_generated_is_invalid(newfw_training):
    root, base = newfw_training
    for run_dir in glob.glob(os.path.join(base, "run", "2026*")):
        _set_files(run_dir, 15000)
    rep = verify_tree(root).to_dict()
    sub = invalid_submission(rep, "training", "3.2.1")
    # the datasize/datagen pairing itself was a warning in the v3.0 round
    overrun = [w for w in warnings(sub["issues"]) if "DATAGEN-OVERRUN" in w["message"]]
    assert overrun and overrun[0]["rule_id"] == "3.3.1"


def test_failed_au_expectation(newfw_training):
    _, base = newfw_training
    run_dir = os.path.join(base, "run", RUN)

    def slow(s):
        s["metric"]["train_au_meet_expectation"] = "fail"
        s["metric"]["train_au_mean_percentage"] = 71.5
    edit_json(os.path.join(run_dir, "summary.json"), slow)
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "INVALID"
    au = [i for i in bad(run["issues"]) if i["rule_id"] == "3.3.2"]
    assert len(au) == 2
    assert {i["parameter"] for i in au} == {"metric.train_au_meet_expectation", "metric.train_au_mean_percentage"}


def test_truncated_summary_is_a_specific_issue(newfw_training):
    _, base = newfw_training
    path = os.path.join(base, "run", RUN, "summary.json")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text[: len(text) // 2])
    run = verify_run_dir(os.path.dirname(path))
    assert run["verdict"] == "INVALID"
    issue = [i for i in bad(run["issues"]) if i["parameter"] == "summary.json"][0]
    assert issue["rule_id"] == "LOAD-04"
    assert "summary.json is not valid JSON" in issue["message"] and "truncated" in issue["message"]
    assert not any("failed with error" in i["message"] for i in run["issues"])


def test_two_metadata_files_in_one_run_dir(newfw_training):
    _, base = newfw_training
    run_dir = os.path.join(base, "run", RUN)
    shutil.copy(metadata_path(run_dir), os.path.join(run_dir, "training_20260712_999999_metadata.json"))
    issue = invalid_issue(run_dir, "LEAF-01")
    assert issue["expected"] == 1 and len(issue["actual"]) == 2


def test_wrong_checkpoint_process_count(tmp_path):
    root = copy_corpus(tmp_path, NEWFW_C)
    run_dir = os.path.join(root, NEWFW_C, "20260713_162640")

    def procs(n):
        edit_metadata(run_dir, lambda d: (d.__setitem__("num_processes", n), d["args"].__setitem__("num_processes", n)))
        edit_json(os.path.join(run_dir, "summary.json"), lambda s: s.__setitem__("num_accelerators", n))

    procs(6)
    issue = invalid_issue(run_dir, "4.6.1")
    assert (issue["expected"], issue["actual"]) == (8, 6)
    sub = submission(verify_tree(root).to_dict(), "checkpointing")
    assert sub["verdict"] == "INVALID"
    # a multiple of TPxPP is OPEN-only, and then the processes differ between the two phases
    procs(16)
    rep = verify_tree(root).to_dict()
    assert run_by_path(rep, "20260713_162640")["verdict"] == "OPEN"
    assert "2.1.9" in rule_ids(submission(rep, "checkpointing")["issues"])


def test_checkpoint_phase_gap_over_30s_is_a_v3_0_warning(tmp_path):
    root = copy_corpus(tmp_path, NEWFW_C)
    read_dir = os.path.join(root, NEWFW_C, "20260713_162955")
    edit_metadata(read_dir, lambda d: d.__setitem__("invocation_start_time", "2026-07-13T16:31:00.000000"))
    sub = submission(verify_tree(root).to_dict(), "checkpointing")
    assert sub["verdict"] == "CLOSED"
    gap = [w for w in warnings(sub["issues"]) if w["rule_id"] == "4.7.1"][0]
    assert gap["actual"] == pytest.approx(82.1, abs=0.2)
    # under a strict reading (no relaxation) the same finding is INVALID
    from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import load_edition
    edition = load_edition("3.0")
    saved = dict(edition.relaxed_rules)
    edition.relaxed_rules.pop("4.7.1/GAP")
    try:
        strict = submission(verify_tree(root).to_dict(), "checkpointing")
    finally:
        edition.relaxed_rules.clear()
        edition.relaxed_rules.update(saved)
    assert strict["verdict"] == "INVALID" and "4.7.1" in rule_ids(strict["issues"])


def test_checkpoint_missing_read_phase(tmp_path):
    root = copy_corpus(tmp_path, NEWFW_C)
    shutil.rmtree(os.path.join(root, NEWFW_C, "20260713_162955"))
    sub = submission(verify_tree(root).to_dict(), "checkpointing")
    assert sub["verdict"] == "INVALID"
    total = [i for i in bad(sub["issues"]) if i["rule_id"] == "4.6-TOTAL"][0]
    assert total["actual"] == "10/0"


def test_kv_closed_sequence_lock(tmp_path):
    root = copy_corpus(tmp_path, NEWFW_K)
    run_dir = os.path.join(root, NEWFW_K)
    edit_metadata(run_dir, lambda d: d["args"].__setitem__("seed", 7))
    issue = invalid_issue(run_dir, "6.3.2.1")
    assert (issue["parameter"], issue["expected"], issue["actual"]) == ("seed", 42, 7)


def test_vdb_run_removed(tmp_path):
    root = copy_corpus(tmp_path, NEWFW_V)
    shutil.rmtree(os.path.join(root, NEWFW_V, "run", "20260718_220804"))
    invalid_submission(verify_tree(root).to_dict(), "vector_database", "5.3.1")


# --- bad input: specific issues, never a traceback ---------------------------------------------
def test_malformed_metadata_json(newfw_training):
    _, base = newfw_training
    run_dir = os.path.join(base, "run", RUN)
    with open(metadata_path(run_dir), "a", encoding="utf-8") as fh:
        fh.write("\n}{ trailing garbage")
    issue = invalid_issue(run_dir, "LOAD-01")
    assert "training_20260712_125218_metadata.json is not valid JSON" in issue["message"]


def test_malformed_engine_yaml_without_metadata(tmp_path):
    root = copy_corpus(tmp_path, ALLUXIO_T)
    run_dir = os.path.join(root, ALLUXIO_T, "run", "20260704_052047")  # the leaf that kept config.yaml
    os.unlink(metadata_path(run_dir))
    with open(os.path.join(run_dir, "dlio_config", "config.yaml"), "w", encoding="utf-8") as fh:
        fh.write("workload:\n  model: [unclosed\n")
    issue = invalid_issue(run_dir, "LOAD-02")
    assert "dlio_config/config.yaml is not valid YAML at line" in issue["message"]


def test_run_rebuilt_from_engine_files_when_metadata_is_missing(tmp_path):
    root = copy_corpus(tmp_path, ALLUXIO_T)
    run_dir = os.path.join(root, ALLUXIO_T, "run", "20260704_052047")
    os.unlink(metadata_path(run_dir))
    run = verify_run_dir(run_dir)
    assert (run["source"], run["benchmark"], run["model"], run["command"], run["num_processes"]) == (
        "dlio", "training", "unet3d", "run", 8)
    # without metadata there are no args: the path-argument rule cannot be satisfied
    assert "3.4.1" in rule_ids(run["issues"])


def test_missing_summary(newfw_training):
    _, base = newfw_training
    run_dir = os.path.join(base, "run", RUN)
    os.unlink(os.path.join(run_dir, "summary.json"))
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "INVALID"
    assert "RUN-SUMMARY" in rule_ids(run["issues"])


def test_missing_everything(tmp_path):
    leaf = tmp_path / "closed" / "Org" / "results" / "sys" / "training" / "unet3d" / "run" / "20260101_000000"
    leaf.mkdir(parents=True)
    (leaf / "summary.json").write_text("{}")
    (leaf / "notes.txt").write_text("x")
    rep = verify_tree(str(tmp_path)).to_dict()
    run = rep["runs"][0]
    assert run["verdict"] == "INVALID"
    assert "LOAD-07" in rule_ids(run["issues"])


def test_unknown_benchmark_type(newfw_training):
    _, base = newfw_training
    run_dir = os.path.join(base, "run", RUN)
    edit_metadata(run_dir, lambda d: d.__setitem__("benchmark_type", "inference"))
    issue = invalid_issue(run_dir, "LOAD-03")
    assert issue["actual"] == "inference"


def test_empty_tree_is_invalid_with_a_reason(tmp_path):
    rep = verify_tree(str(tmp_path)).to_dict()
    assert rep["verdict"] == "INVALID" and "no run directories" in rep["error"]


def test_unknown_edition_in_submission_yaml(newfw_training):
    root, _ = newfw_training
    with open(os.path.join(root, "closed", "NewFW", "submission.yaml"), "w", encoding="utf-8") as fh:
        fh.write("edition: v9.9\n")
    rep = verify_tree(root).to_dict()
    assert rep["verdict"] == "INVALID"
    assert all("EDN-01" in rule_ids(r["issues"]) for r in rep["runs"])


# --- checksum manifest --------------------------------------------------------------------------
def _write_manifest(run_dir, names, extra=""):
    lines = []
    for name in names:
        with open(os.path.join(run_dir, name), "rb") as fh:
            lines.append("%s  %s" % (hashlib.sha256(fh.read()).hexdigest(), name))
    with open(os.path.join(run_dir, "CHECKSUMS.sha256"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n" + extra)


def test_checksum_manifest_detects_changes_and_missing_files(newfw_training):
    _, base = newfw_training
    run_dir = os.path.join(base, "run", RUN)
    # the whole run directory, as the seal lists it (a file left out would be an unlisted file: INTEGRITY-04/05)
    names = sorted(os.path.relpath(os.path.join(d, f), run_dir) for d, _, fs in os.walk(run_dir) for f in fs)
    assert {"summary.json", os.path.basename(metadata_path(run_dir)), "0_per_epoch_stats.json"} <= set(names)
    _write_manifest(run_dir, names)
    assert verify_run_dir(run_dir)["verdict"] == "CLOSED"
    with open(os.path.join(run_dir, "0_per_epoch_stats.json"), "a", encoding="utf-8") as fh:
        fh.write(" ")
    os.unlink(os.path.join(run_dir, "summary.json"))
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "INVALID"
    ids = {i["rule_id"]: i["parameter"] for i in bad(run["issues"]) if i["rule_id"].startswith("INTEGRITY")}
    assert ids == {"INTEGRITY-01": "0_per_epoch_stats.json", "INTEGRITY-02": "summary.json"}


def test_checksum_manifest_rejects_paths_outside_the_run(newfw_training):
    _, base = newfw_training
    run_dir = os.path.join(base, "run", RUN)
    _write_manifest(run_dir, ["summary.json"], extra="%s  ../other/summary.json\n" % ("0" * 64))
    run = verify_run_dir(run_dir)
    assert "INTEGRITY-03" in rule_ids(run["issues"])


def test_mutating_a_copy_leaves_the_corpus_untouched(newfw_training):
    from _rules_helpers import CORPUS
    original = os.path.join(CORPUS, NEWFW_T, "run", RUN, "summary.json")
    with open(original, "rb") as fh:
        before = hashlib.sha256(fh.read()).hexdigest()
    _, base = newfw_training
    edit_json(os.path.join(base, "run", RUN, "summary.json"), lambda s: s.__setitem__("num_hosts", 3))
    with open(original, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == before
    assert load_json(os.path.join(base, "run", RUN, "summary.json"))["num_hosts"] == 3


def test_malformed_submission_yaml(newfw_training):
    root, _ = newfw_training
    with open(os.path.join(root, "closed", "NewFW", "submission.yaml"), "w", encoding="utf-8") as fh:
        fh.write("edition: [3.0\n")
    rep = verify_tree(root).to_dict()
    issue = [i for i in bad(rep["runs"][0]["issues"]) if i["rule_id"] == "EDN-01"][0]
    assert issue["message"].startswith("closed/NewFW/submission.yaml is not valid YAML at line 2")
