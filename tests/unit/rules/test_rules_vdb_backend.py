# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rule 5.6.2: a vector-database result produced by milvus-lite (embedded Milvus) is OPEN only."""
import glob
import json
import os
import shutil

import pytest

from _testpaths import CORPUS
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_run_dir

RUN = os.path.join(CORPUS, "closed", "NewFW", "results", "*", "vector_database", "milvus", "DISKANN", "run",
                   "20260718_212326")


@pytest.fixture
def vdb_run(tmp_path):
    found = glob.glob(RUN)
    if not found:
        pytest.skip("the published results corpus is not at %s" % CORPUS)
    tail = os.path.relpath(found[0], CORPUS)
    copy = tmp_path / tail
    shutil.copytree(found[0], str(copy))
    return copy


def rule_issues(report, rule):
    return [i for i in report["issues"] if i["rule_id"] == rule]


def test_a_milvus_deployment_passes_5_6_2(vdb_run):
    report = verify_run_dir(str(vdb_run))
    assert [i["validation"] for i in rule_issues(report, "5.6.2")] == ["CLOSED"]
    assert report["verdict"] == "CLOSED"


def test_milvus_lite_makes_the_run_open(vdb_run):
    meta_path = glob.glob(str(vdb_run / "vector_database_*_metadata.json"))[0]
    with open(meta_path) as handle:
        meta = json.load(handle)
    meta["vdb_backend"] = "milvus-lite"
    with open(meta_path, "w") as handle:
        json.dump(meta, handle)
    report = verify_run_dir(str(vdb_run))
    issues = rule_issues(report, "5.6.2")
    assert [i["validation"] for i in issues] == ["OPEN"] and "milvus-lite" in issues[0]["message"]
    assert report["verdict"] == "OPEN"
