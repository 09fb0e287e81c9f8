# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vector database values CLOSED fixes (Rules 5.1.2, 5.2.2, 5.3.1, 5.3.2, 5.6.3, 5.6.4) on copies of the published
DISKANN result: the published result is CLOSED, each altered copy gets the decided verdict and the exact issue."""
import glob
import os
import shutil

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_run_dir, verify_tree

from _rules_helpers import NEWFW_V, copy_corpus, edit_json, edit_metadata, submission

RUN = "20260718_212326"  # the run that kept recall_stats.json and result_verdict.json


@pytest.fixture
def vdb(tmp_path):
    root = copy_corpus(tmp_path, NEWFW_V)
    return root, os.path.join(root, NEWFW_V)


def _not_passes(issues, rule):
    return sorted((i["validation"], i["parameter"], i["expected"], i["actual"]) for i in issues
                  if i["rule_id"] == rule and not (i["validation"] == "CLOSED" and i["severity"] == "info"))


def test_published_result_is_closed(vdb):
    root, _ = vdb
    sub = submission(verify_tree(root).to_dict(), "vector_database")
    assert sub["verdict"] == "CLOSED"


def test_build_parameters_closed_may_tune_stay_closed(vdb):
    _, base = vdb
    run_dir = os.path.join(base, "run", RUN)
    edit_metadata(run_dir, lambda d: d["args"].__setitem__("index_params", {"max_degree": 32,
                                                                           "search_list_size": 100}))
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "CLOSED"
    assert [i["message"] for i in run["issues"] if i["rule_id"] == "5.6.4" and i["parameter"] == "index"] == [
        "DISKANN build parameters max_degree=32, search_list_size=100"]


def test_a_build_parameter_of_another_index_is_open(vdb):
    _, base = vdb
    run_dir = os.path.join(base, "run", RUN)
    edit_metadata(run_dir, lambda d: d["args"].__setitem__("index_params", {"max_degree": 64, "inline_pq": 16}))
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "OPEN"
    assert _not_passes(run["issues"], "5.6.4") == [("OPEN", "index.inline_pq",
                                                    ["max_degree", "search_list_size"], 16)]


def test_a_build_parameter_that_is_not_a_positive_whole_number_is_invalid(vdb):
    _, base = vdb
    run_dir = os.path.join(base, "datagen", "20260718_182502")
    edit_metadata(run_dir, lambda d: d.__setitem__("parameters", {"index": {"index_type": "DISKANN",
                                                                             "max_degree": 0}}))
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "INVALID"
    assert _not_passes(run["issues"], "5.6.4") == [("INVALID", "index.max_degree", "> 0", 0)]


def test_dimension_of_a_run_other_than_the_loaded_collection_is_invalid(vdb):
    root, base = vdb
    run_dir = os.path.join(base, "run", "20260718_220804")
    edit_metadata(run_dir, lambda d: (d["args"].__setitem__("vector_dim", 768), d.__setitem__("vector_dim", 768)))
    edit_json(os.path.join(run_dir, "config.json"), lambda c: c.__setitem__("vector_dim", 768))
    sub = submission(verify_tree(root).to_dict(), "vector_database")
    assert sub["verdict"] == "INVALID"
    assert _not_passes(sub["issues"], "5.1.2") == [("INVALID", "dimension", 1536, 768)]


def test_index_of_a_run_other_than_the_built_one_is_invalid(vdb):
    root, base = vdb
    run_dir = os.path.join(base, "run", "20260718_221954")
    edit_metadata(run_dir, lambda d: (d["args"].__setitem__("vdb_index", "HNSW"), d.__setitem__("vdb_index", "HNSW")))
    sub = submission(verify_tree(root).to_dict(), "vector_database")
    assert sub["verdict"] == "INVALID"
    assert ("INVALID", "index_type", "DISKANN", "HNSW") in _not_passes(sub["issues"], "5.2.2")


@pytest.mark.parametrize("keep", [4, 6])
def test_run_count_other_than_five_is_invalid(vdb, keep):
    root, base = vdb
    runs = sorted(glob.glob(os.path.join(base, "run", "*")))
    if keep < len(runs):
        shutil.rmtree(runs[-1])
    else:
        shutil.copytree(runs[-1], runs[-1][:-6] + "235959")
    sub = submission(verify_tree(root).to_dict(), "vector_database")
    assert sub["verdict"] == "INVALID"
    assert [(i["validation"], i["expected"], i["actual"]) for i in sub["issues"] if i["rule_id"] == "5.3.1"] == [
        ("INVALID", 5, keep)]


def test_recall_from_the_ground_truth_verdict_when_the_summary_has_none(vdb):
    _, base = vdb
    run_dir = os.path.join(base, "run", RUN)
    edit_json(os.path.join(run_dir, "statistics.json"), lambda s: s.pop("recall"))
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "CLOSED"
    assert [i["actual"] for i in run["issues"] if i["parameter"] == "recall"] == [0.5652]


def test_no_recall_anywhere_is_invalid(vdb):
    _, base = vdb
    run_dir = os.path.join(base, "run", RUN)
    edit_json(os.path.join(run_dir, "statistics.json"), lambda s: s.pop("recall"))
    edit_json(os.path.join(run_dir, "result_verdict.json"), lambda v: v.pop("recall_summary"))
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "INVALID"
    assert _not_passes(run["issues"], "5.3.2") == [("INVALID", "recall", None, None)]
