# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's checksum manifest: listed files missing, files present but not listed, files changed after the
seal. Sealed with the collection's own writer (module_utils/_results.write_checksums) on copies of published
runs in temporary directories; the published corpus (no manifests) is never touched and gets no finding."""
import os
import shutil

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _fs_separation, _results
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_run_dir, verify_tree
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.loader import CHECKSUM_MODES, load_run

from _rules_helpers import CORPUS, NEWFW_T, bad, copy_corpus, require_corpus, rule_ids, warnings

RUN = "20260712_125218"


@pytest.fixture
def sealed(tmp_path):
    """(tree root, run dir) of a copy of a published CLOSED training result with one run sealed."""
    root = copy_corpus(tmp_path, NEWFW_T)
    run_dir = os.path.join(root, NEWFW_T, "run", RUN)
    assert _results.write_checksums(run_dir) >= 5
    return root, run_dir


def integrity(run, validation=None):
    return [(i["rule_id"], i["parameter"]) for i in run["issues"] if (i["rule_id"] or "").startswith("INTEGRITY")
            and (validation is None or i["validation"] == validation)]


def test_a_sealed_untouched_run_is_closed_in_both_modes(sealed):
    _, run_dir = sealed
    for mode in CHECKSUM_MODES:
        run = verify_run_dir(run_dir, checksums=mode)
        assert run["verdict"] == "CLOSED", (mode, bad(run["issues"]))
        assert not warnings(integrity_issues(run)), mode
    notes = [i for i in verify_run_dir(run_dir)["issues"] if i["rule_id"] == "INTEGRITY-01"]
    assert len(notes) == 1 and notes[0]["severity"] == "info" and "match CHECKSUMS.sha256" in notes[0]["message"]
    notes = [i for i in verify_run_dir(run_dir, checksums="presence")["issues"] if i["rule_id"] == "INTEGRITY-02"]
    assert len(notes) == 1 and "not hashed" in notes[0]["message"]


def integrity_issues(run):
    return [i for i in run["issues"] if (i["rule_id"] or "").startswith("INTEGRITY")]


def test_listed_file_missing_is_invalid_in_both_modes(sealed):
    _, run_dir = sealed
    os.unlink(os.path.join(run_dir, "1_per_epoch_stats.json"))
    for mode in CHECKSUM_MODES:
        run = verify_run_dir(run_dir, checksums=mode)
        assert run["verdict"] == "INVALID"
        assert integrity(run, "INVALID") == [("INTEGRITY-02", "1_per_epoch_stats.json")]


def test_changed_file_is_invalid_when_hashed_and_not_seen_by_presence(sealed):
    _, run_dir = sealed
    with open(os.path.join(run_dir, "summary.json"), "a", encoding="utf-8") as fh:
        fh.write(" ")
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "INVALID"
    assert integrity(run, "INVALID") == [("INTEGRITY-01", "summary.json")]
    changed = bad(run["issues"])[0]
    assert len(changed["expected"]) == 64 and changed["expected"] != changed["actual"]
    # presence only: the documented trade (no hashing, so a changed content is not seen)
    assert verify_run_dir(run_dir, checksums="presence")["verdict"] == "CLOSED"


def test_changed_file_in_a_subdirectory_is_found(sealed):
    _, run_dir = sealed
    nested = os.path.join(run_dir, "dlio_config", "hydra.yaml")
    if not os.path.exists(nested):
        pytest.skip("this copy has no dlio_config/hydra.yaml")
    with open(nested, "a", encoding="utf-8") as fh:
        fh.write("# edited\n")
    assert integrity(verify_run_dir(run_dir), "INVALID") == [("INTEGRITY-01", "dlio_config/hydra.yaml")]


def test_evidence_added_after_the_seal_is_invalid(tmp_path):
    """fs_separation.json written after CHECKSUMS.sha256 (what the contract forbids): the 3.4.2 verdict
    would rest on a file nobody sealed."""
    root = copy_corpus(tmp_path, NEWFW_T)
    run_dir = os.path.join(root, NEWFW_T, "run", RUN)
    fs_file = os.path.join(run_dir, "fs_separation.json")
    with open(fs_file, "rb") as fh:
        content = fh.read()
    os.unlink(fs_file)
    _results.write_checksums(run_dir)
    with open(fs_file, "wb") as fh:
        fh.write(content)
    for mode in CHECKSUM_MODES:
        run = verify_run_dir(run_dir, checksums=mode)
        assert run["verdict"] == "INVALID"
        assert integrity(run, "INVALID") == [("INTEGRITY-04", "fs_separation.json")]
        assert "added after the run was sealed" in bad(run["issues"])[0]["message"]


@pytest.mark.parametrize("name", ["training_20990101_000000_metadata.json", "summary.json",
                                  "dlio_config/overrides.yaml", "2_per_epoch_stats.json", "provenance.json"])
def test_every_file_the_verdict_reads_is_evidence(sealed, name):
    _, run_dir = sealed
    path = os.path.join(run_dir, name)
    if os.path.exists(path):
        os.unlink(path)
        _results.write_checksums(run_dir)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("{}\n")
    assert ("INTEGRITY-04", name) in integrity(verify_run_dir(run_dir, checksums="presence"), "INVALID")


def test_other_files_added_after_the_seal_are_a_closed_warning(sealed):
    _, run_dir = sealed
    os.makedirs(os.path.join(run_dir, "rank_3"))
    for rel in ("notes.txt", ".DS_Store", "rank_3/extra.log", "CHECKSUMS.sha256.tmp"):
        with open(os.path.join(run_dir, rel), "w", encoding="utf-8") as fh:
            fh.write("x\n")
    # a symbolic link is not a file of the run (the seal skips links too)
    os.symlink("summary.json", os.path.join(run_dir, "summary-link.json"))
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "CLOSED"
    warned = [i for i in warnings(run["issues"]) if i["rule_id"] == "INTEGRITY-05"]
    assert len(warned) == 1
    assert warned[0]["actual"] == [".DS_Store", "CHECKSUMS.sha256.tmp", "notes.txt", "rank_3/extra.log"]
    assert "4 file(s) not listed" in warned[0]["message"]


def test_many_unlisted_files_are_one_warning_with_a_short_message(sealed):
    _, run_dir = sealed
    for n in range(40):
        with open(os.path.join(run_dir, "extra_%02d.log" % n), "w", encoding="utf-8") as fh:
            fh.write("x")
    warned = [i for i in warnings(verify_run_dir(run_dir)["issues"]) if i["rule_id"] == "INTEGRITY-05"]
    assert len(warned) == 1 and len(warned[0]["actual"]) == 40 and "and 35 more" in warned[0]["message"]


def test_listed_file_replaced_by_a_link_or_listed_twice(sealed):
    _, run_dir = sealed
    summary = os.path.join(run_dir, "summary.json")
    shutil.move(summary, os.path.join(run_dir, "..", "summary.elsewhere"))
    os.symlink(os.path.join(run_dir, "..", "summary.elsewhere"), summary)
    assert ("INTEGRITY-01", "summary.json") in integrity(verify_run_dir(run_dir), "INVALID")
    with open(os.path.join(run_dir, "CHECKSUMS.sha256"), encoding="utf-8") as fh:
        first = fh.readline()
    with open(os.path.join(run_dir, "CHECKSUMS.sha256"), "a", encoding="utf-8") as fh:
        fh.write(first)
    assert "INTEGRITY-03" in rule_ids(verify_run_dir(run_dir)["issues"])


def test_tree_with_sealed_and_unsealed_runs(sealed):
    root, run_dir = sealed
    with open(os.path.join(run_dir, "notes.txt"), "w", encoding="utf-8") as fh:
        fh.write("x")
    os.unlink(os.path.join(run_dir, "0_per_epoch_stats.json"))
    rep = verify_tree(root, checksums="presence").to_dict()
    flagged = {r["path"].rsplit("/", 1)[-1]: integrity(r, "INVALID") for r in rep["runs"] if integrity(r)}
    # only the sealed run has findings; the other runs of the copy have no manifest and none
    assert flagged == {RUN: [("INTEGRITY-02", "0_per_epoch_stats.json")]}
    assert rep["verdict"] == "INVALID"


def test_the_collections_own_fs_separation_record_seals_closed(tmp_path):
    """The module's record replaces the published one, is sealed with the run, and verifies CLOSED."""
    root = copy_corpus(tmp_path, NEWFW_T)
    run_dir = os.path.join(root, NEWFW_T, "run", RUN)
    os.unlink(os.path.join(run_dir, "fs_separation.json"))
    record = _fs_separation.build_record("/proc", str(tmp_path), _fs_separation.read_mountinfo())
    _fs_separation.write_record(run_dir, record)
    _results.write_checksums(run_dir)
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "CLOSED", bad(run["issues"])
    assert any(i["parameter"] == "fs_separation.same_filesystem" and i["validation"] == "CLOSED"
               for i in run["issues"])
    with pytest.raises(_fs_separation.FsSeparationError, match="sealed"):
        _fs_separation.write_record(run_dir, record)


def test_no_manifest_no_finding_on_the_published_corpus():
    require_corpus()
    for mode in CHECKSUM_MODES:
        rep = verify_tree(CORPUS, checksums=mode).to_dict()
        assert not [i for r in rep["runs"] for i in integrity_issues(r)]


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="checksums must be one of sha256, presence"):
        verify_tree(str(tmp_path), checksums="md5")
    with pytest.raises(ValueError):
        load_run(str(tmp_path), checksums=None)
