# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Only the rules of a tree's edition apply, and the edition is recognised from the tree.

A v2.0-format training tree (written by _v20_tree from the v2.0 rules) verifies CLOSED under edition 2.0,
detected from its metadata or given by verify_edition; mutated copies get their exact verdicts. The
corpus (v3.0) is detected as 3.0 from its metadata format.
"""
import glob
import json
import os
import shutil

import pytest
import yaml

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import load_edition, verify_tree
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import (
    detect_run_edition, edition_for_metadata_format, edition_for_tool_version)

from _rules_helpers import ALLUXIO_T, CORPUS, copy_corpus, load_json, require_corpus
from _v20_tree import build_v20_training_tree, run_dirs


def bad(issues):
    return [(i["validation"], i["rule_id"], i["message"]) for i in issues
            if i["validation"] != "CLOSED" or i["severity"] == "warning"]


def by_rule(issues, rule_id):
    return [(i["validation"], i["severity"], i["message"]) for i in issues if i["rule_id"] == rule_id]


@pytest.fixture(scope="module")
def v20_tree(tmp_path_factory):
    return build_v20_training_tree(tmp_path_factory.mktemp("v20") / "mlperf_storage_results")


@pytest.fixture
def v20_copy(v20_tree, tmp_path):
    dest = tmp_path / "mlperf_storage_results"
    shutil.copytree(v20_tree, dest)
    return str(dest)


FS_NOTE = ("not a requirement of rules edition 2.0: the v2.0 tool wrote no fs_separation.json and its rules had no "
           "filesystem-separation check (both came with v3.x)")
DATASIZE_NOTE = ("not a requirement of rules edition 2.0: the v2.0 datasize command only printed its result; it left "
                 "no datasize run directory or metadata")


# --- the v2.0 tree -------------------------------------------------------------------------------
def test_v20_tree_is_detected_as_2_0_and_verifies_closed(v20_tree):
    report = verify_tree(v20_tree).to_dict()
    assert report["verdict"] == "CLOSED", [(r["path"], bad(r["issues"])) for r in report["runs"]]
    assert report["edition"] == "2.0"
    assert report["edition_source"] == "edition 2.0 for 7 runs (detected from the metadata format: 7)"
    assert report["counts"] == {"CLOSED": 7}
    assert sorted((r["command"], r["division"], r["accelerator"]) for r in report["runs"]) == (
        [("datagen", "closed", "h100")] + [("run", "closed", "h100")] * 6)
    for run in report["runs"]:
        meta = os.path.basename(glob.glob(os.path.join(v20_tree, run["path"], "*_metadata.json"))[0])
        assert run["edition"] == "2.0"
        assert run["edition_source"] == (
            "detected from the metadata format of %s (keys only the edition 2.0 tool writes: params_dict, "
            "combined_params, run_result_output, args.closed)" % meta)
        assert bad(run["issues"]) == [], run["path"]
        if run["command"] == "run":
            # no fs_separation.json: the requirement did not exist in 2.0
            assert by_rule(run["issues"], "3.4.2") == [("CLOSED", "info", FS_NOTE)]
    [sub] = report["submissions"]
    assert (sub["division"], sub["benchmark"], sub["model"], sub["edition"], sub["verdict"]) == (
        "closed", "training", "unet3d", "2.0", "CLOSED")
    assert bad(sub["issues"]) == []
    assert by_rule(sub["issues"], "2.1.12") == [("CLOSED", "info", DATASIZE_NOTE)]
    assert by_rule(sub["issues"], "2.1.17") == [("CLOSED", "info", "6 runs")]


def test_v20_tree_forced_to_2_0_verifies_closed(v20_tree):
    report = verify_tree(v20_tree, edition="2.0").to_dict()
    assert report["verdict"] == "CLOSED"
    assert report["edition_source"] == "edition 2.0 for 7 runs (given by verify_edition: 7)"
    assert {r["edition_source"] for r in report["runs"]} == {"given by verify_edition (the caller's edition option)"}
    assert all(bad(r["issues"]) == [] for r in report["runs"])


def test_v20_tree_forced_to_3_0_is_judged_by_3_0_and_says_the_format_disagrees(v20_tree):
    report = verify_tree(v20_tree, edition="3.0").to_dict()
    assert report["verdict"] == "INVALID"
    assert report["edition"] == "3.0"
    edn04 = ("CLOSED", "EDN-04", "judged under edition 3.0 (given by verify_edition (the caller's edition option)), "
             "but the run's metadata has the format of edition 2.0")
    for run in report["runs"]:
        if run["command"] == "datagen":
            assert (run["verdict"], bad(run["issues"])) == ("CLOSED", [edn04])
            continue
        assert run["verdict"] == "INVALID"
        assert bad(run["issues"]) == [
            ("INVALID", "3.0-MODEL", "accelerator h100 is not allowed in the closed division (allowed: b200, mi355)"),
            edn04,
            ("CLOSED", "3.4.2", "fs_separation.json is missing: nothing shows the data and results directories are on "
                                "different filesystems [warning under edition 3.0: a missing fs_separation.json was "
                                "warn-and-review-manually in the v3.0 round]"),
        ], run["path"]


# --- mutated copies ------------------------------------------------------------------------------
def test_four_runs_are_too_few_for_2_0(v20_copy):
    for leaf in run_dirs(v20_copy)[-2:]:
        shutil.rmtree(leaf)
    report = verify_tree(v20_copy).to_dict()
    [sub] = report["submissions"]
    assert report["verdict"] == sub["verdict"] == "INVALID"
    assert report["counts"] == {"CLOSED": 5}
    assert bad(sub["issues"]) == [("INVALID", "2.1.17", "4 training run(s) found; edition 2.0 requires at least 5 "
                                                        "consecutive runs")]


def test_five_runs_are_enough_for_2_0_but_not_for_3_0(v20_copy):
    shutil.rmtree(run_dirs(v20_copy)[0])
    sub = verify_tree(v20_copy).to_dict()["submissions"][0]
    assert (sub["verdict"], bad(sub["issues"]), by_rule(sub["issues"], "2.1.17")) == (
        "CLOSED", [], [("CLOSED", "info", "5 runs")])
    sub3 = verify_tree(v20_copy, edition="3.0").to_dict()["submissions"][0]
    assert ("INVALID", "2.1.17", "5 training run(s) found; edition 3.0 requires exactly 6 (1 warm-up + 5 measured) "
                                 "consecutive runs") in bad(sub3["issues"])


def _add_override(leaf, key, value):
    path = os.path.join(leaf, "dlio_config", "overrides.yaml")
    with open(path, encoding="utf-8") as fh:
        entries = yaml.safe_load(fh)
    entries.append("++workload.%s=%s" % (key, value))
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(entries, fh)


V20_CLOSED = load_edition("2.0").section("training")["overrides"]["closed"]


@pytest.mark.parametrize("key,value,hint", [
    # CLOSED-allowed from v3.x on
    ("storage.storage_options.prefetch_window", "4", "storage.storage_type"),
    # injected by the v3.x tool; v2.0 knew no such key
    ("dataset.skip_listing", "True", "dataset.num_files_train"),
])
def test_a_parameter_v2_0_did_not_allow_makes_the_run_invalid(v20_copy, key, value, hint):
    leaf = run_dirs(v20_copy)[2]
    _add_override(leaf, key, value)
    report = verify_tree(v20_copy).to_dict()
    stamp = os.path.basename(leaf)
    run = [r for r in report["runs"] if r["path"].endswith(stamp)][0]
    message = "disallowed parameter override %s (did you mean %s?); remove it (allowed in CLOSED: %s)" % (
        key, hint, ", ".join(V20_CLOSED))
    assert (run["edition"], run["verdict"], bad(run["issues"])) == ("2.0", "INVALID", [("INVALID", "3.6.2", message)])
    assert report["counts"] == {"CLOSED": 6, "INVALID": 1}
    sub = report["submissions"][0]
    assert bad(sub["issues"]) == [("INVALID", "SUB-RUNS", "run %s is INVALID: %s" % (stamp, message))]
    # the same key is CLOSED-compatible under 3.0 (allowed or tool-injected): edition data decides
    three = verify_tree(v20_copy, edition="3.0").to_dict()
    run3 = [r for r in three["runs"] if r["path"].endswith(stamp)][0]
    assert not [i for i in run3["issues"] if i["rule_id"] == "3.6.2" and i["validation"] != "CLOSED"]


def test_an_accelerator_v2_0_did_not_have(v20_copy):
    leaf = run_dirs(v20_copy)[0]
    path = os.path.join(leaf, "dlio_config", "overrides.yaml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text.replace("workload=unet3d_h100", "workload=unet3d_b200"))
    run = [r for r in verify_tree(v20_copy).to_dict()["runs"] if r["path"].endswith(os.path.basename(leaf))][0]
    assert (run["verdict"], bad(run["issues"])) == ("INVALID", [
        ("INVALID", "3.0-MODEL", "accelerator b200 is not allowed in the closed division (allowed: h100, a100)")])


def test_a_result_mixing_editions_is_invalid(v20_copy):
    # one run directory of the result holds v3.0-format metadata (from the corpus result it was built from)
    leaf = run_dirs(v20_copy)[3]
    stamp = os.path.basename(leaf)
    v3meta = glob.glob(os.path.join(require_corpus(), ALLUXIO_T, "run", stamp, "*_metadata.json"))[0]
    os.remove(glob.glob(os.path.join(leaf, "*_metadata.json"))[0])
    shutil.copyfile(v3meta, os.path.join(leaf, os.path.basename(v3meta)))
    report = verify_tree(v20_copy).to_dict()
    assert report["edition"] == ["2.0", "3.0"]
    assert report["edition_source"] == ("edition 2.0 for 6 runs (detected from the metadata format: 6); "
                                        "edition 3.0 for 1 run (detected from the metadata format: 1)")
    [sub] = [s for s in report["submissions"] if s["benchmark"] == "training"]
    assert sub["verdict"] == "INVALID"
    assert ("INVALID", "EDN-03", "the runs of one result were judged under different editions (2.0, 3.0)") in bad(
        sub["issues"])


def test_a_tree_with_results_of_both_editions_judges_each_by_its_own(v20_tree, tmp_path):
    dest = tmp_path / "mixed"
    shutil.copytree(v20_tree, dest / "v20")
    copy_corpus(dest / "v30", ALLUXIO_T)
    report = verify_tree(str(dest)).to_dict()
    assert report["edition"] == ["2.0", "3.0"]
    assert report["edition_source"] == ("edition 2.0 for 7 runs (detected from the metadata format: 7); "
                                        "edition 3.0 for 8 runs (detected from the metadata format: 8)")
    assert sorted((s["edition"], s["verdict"]) for s in report["submissions"]) == [("2.0", "CLOSED"),
                                                                                   ("3.0", "CLOSED")]
    assert report["verdict"] == "CLOSED"


# --- detection, from what a run records ------------------------------------------------------------
def test_corpus_runs_are_detected_as_3_0_from_their_metadata_format():
    require_corpus()
    report = verify_tree(os.path.join(CORPUS, ALLUXIO_T)).to_dict()
    assert report["edition_source"] == "edition 3.0 for 8 runs (detected from the metadata format: 8)"


@pytest.mark.parametrize("version,edition", [("3.0.43", "3.0"), ("v2.0.1", "2.0"), ("2.0", "2.0"), ("4.1.0", None),
                                             ("unknown", None), ("", None)])
def test_tool_version_maps_to_the_edition_listing_it(version, edition):
    assert edition_for_tool_version(version) == edition


def test_detection_order_and_reasons():
    v3 = {"override_parameters": {}, "system_info": {}, "args": {"mode": "closed"}}
    v2 = {"params_dict": {}, "combined_params": {}, "args": {"closed": False}}
    assert edition_for_metadata_format(v2) == ("2.0", ["params_dict", "combined_params", "args.closed"], [])
    assert edition_for_metadata_format(v3)[0] == "3.0"
    assert edition_for_metadata_format({"args": {"closed": True, "mode": "open"}}) == (None, [], ["2.0", "3.0"])
    assert edition_for_metadata_format({"benchmark_type": "training"}) == (None, [], [])
    found = detect_run_edition(dict(v3, tool={"version": "3.0.43"}), "m.json", {"rules_edition": "v3.0"})
    assert found == [
        ("recorded", "3.0", "recorded as rules_edition 'v3.0' in provenance.json"),
        ("tool_version", "3.0", "detected from tool version 3.0.43 (tool.version) in m.json"),
        ("format", "3.0", "detected from the metadata format of m.json (keys only the edition 3.0 tool writes: "
                          "override_parameters, system_info, args.mode)"),
    ]


def test_recorded_tool_version_beats_the_format_and_a_disagreement_is_a_warning(v20_copy):
    leaf = run_dirs(v20_copy)[0]
    path = glob.glob(os.path.join(leaf, "*_metadata.json"))[0]
    meta = load_json(path)
    meta["tool"] = {"version": "3.0.43"}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
    run = [r for r in verify_tree(v20_copy).to_dict()["runs"] if r["path"].endswith(os.path.basename(leaf))][0]
    assert run["edition"] == "3.0"
    assert run["edition_source"] == "detected from tool version 3.0.43 (tool.version) in %s" % os.path.basename(path)
    assert ("CLOSED", "EDN-04", "judged under edition 3.0 (%s), but the run's metadata has the format of edition 2.0"
            % run["edition_source"]) in bad(run["issues"])


def test_unknown_recorded_edition_falls_back_to_the_default_and_says_so(v20_copy):
    leaf = run_dirs(v20_copy)[0]
    path = glob.glob(os.path.join(leaf, "*_metadata.json"))[0]
    meta = load_json(path)
    meta["rules_edition"] = "9.9"
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
    run = [r for r in verify_tree(v20_copy).to_dict()["runs"] if r["path"].endswith(os.path.basename(leaf))][0]
    assert run["edition"] == "3.0"
    assert run["edition_source"].startswith("default 3.0 (the edition 9.9 recorded as rules_edition '9.9' in ")
    assert [i["rule_id"] for i in run["issues"] if i["validation"] == "INVALID"][:1] == ["EDN-01"]


def test_requirements_are_edition_data():
    v2, v3 = load_edition("2.0"), load_edition("3.0")
    assert (v2.requires("fs_separation"), v2.requires("datasize_leaf")) == (False, False)
    assert (v3.requires("fs_separation"), v3.requires("datasize_leaf")) == (True, True)
    assert v3.requires("a_requirement_no_edition_names") is True


@pytest.mark.parametrize("metadata, reason", [
    ({"benchmark_type": "training"}, "default 3.0 (no edition recorded and no metadata format recognised)"),
    (None, "default 3.0 (no metadata to recognise an edition from)"),
    # keys of both editions' tools: no format wins
    ({"params_dict": {}, "override_parameters": {}}, "default 3.0 (the metadata format of m.json fits editions"),
])
def test_a_default_edition_says_why_it_is_the_default(metadata, reason):
    from types import SimpleNamespace

    from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.engine import _resolve_edition

    run = SimpleNamespace(division="closed", org="acme", metadata=metadata, metadata_file="m.json", provenance=None)
    edition, issues, (source, why) = _resolve_edition(None, run, {})
    assert edition.name == "3.0" and source == "default" and issues == []
    assert why.startswith(reason) and "verify_edition" not in why
