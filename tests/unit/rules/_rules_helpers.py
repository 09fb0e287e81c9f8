# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers for the rules tests: the corpus location, tmp copies, synthetic runs."""
from __future__ import annotations

import glob
import json
import os
import shutil
import stat

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CORPUS = os.environ.get("MLPERF_CORPUS", os.path.join(os.path.dirname(REPO), "shared", "corpus"))

# Published result directories in the corpus, relative to its root.
ALLUXIO_T = "closed/Alluxio/results/aws_c5n18xlarge_i3en24xlarge_8c_10s_8a/training/unet3d"
HOLMES_T = "closed/HolmesAI/results/StorMeshAI/training/retinanet"
NEWFW = "closed/NewFW/results/Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC"
NEWFW_T = NEWFW + "/training/unet3d"
NEWFW_C = NEWFW + "/checkpointing/llama3-8b"
NEWFW_K = NEWFW + "/kv_cache/llama3.1-8b/run/20260713_173041"
NEWFW_V = NEWFW + "/vector_database/milvus/DISKANN"
NEBIUS_C = "closed/Nebius/results/nebius-s3-ckpt-llama3-8b/checkpointing/llama3-8b/20260714_120349"
FARMGPU_K = "open/FarmGPU/results/potato8-qlc-np6-open-tnf-70b/kv_cache/llama3.1-70b-instruct/run/20260709_215001"


def require_corpus():
    if not os.path.isdir(os.path.join(CORPUS, "closed")):
        pytest.skip("published MLPerf Storage v3.0 corpus not found at %s (set MLPERF_CORPUS)" % CORPUS)
    return CORPUS


def _make_writable(path):
    for dirpath, dirnames, filenames in os.walk(path):
        os.chmod(dirpath, os.stat(dirpath).st_mode | stat.S_IWUSR | stat.S_IRUSR | stat.S_IXUSR)
        for fn in filenames:
            full = os.path.join(dirpath, fn)
            os.chmod(full, os.stat(full).st_mode | stat.S_IWUSR)


def copy_corpus(dest, *subpaths):
    """Copy the whole corpus (or the given sub-trees) into dest, writable, and return dest."""
    require_corpus()
    subpaths = subpaths or ("closed", "open")
    for sub in subpaths:
        src = os.path.join(CORPUS, sub)
        target = os.path.join(dest, sub)
        shutil.copytree(src, target)
    _make_writable(dest)
    return str(dest)


def load_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_json(path, data, indent=2):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=indent)


def metadata_path(run_dir):
    found = glob.glob(os.path.join(run_dir, "*_metadata.json"))
    assert len(found) == 1, found
    return found[0]


def edit_metadata(run_dir, func):
    path = metadata_path(run_dir)
    data = load_json(path)
    func(data)
    write_json(path, data)


def edit_json(path, func):
    data = load_json(path)
    func(data)
    write_json(path, data, indent=4)


def run_by_path(report_dict, suffix):
    matches = [r for r in report_dict["runs"] if (r["path"] or "").endswith(suffix)]
    assert len(matches) == 1, (suffix, [r["path"] for r in report_dict["runs"]])
    return matches[0]


def submission(report_dict, benchmark, org=None, model=None):
    matches = [s for s in report_dict["submissions"] if s["benchmark"] == benchmark
               and (org is None or s["org"] == org) and (model is None or s["model"] == model)]
    assert len(matches) == 1, [(s["org"], s["benchmark"], s["model"]) for s in report_dict["submissions"]]
    return matches[0]


def bad(issues, validation="INVALID"):
    return [i for i in issues if i["validation"] == validation]


def rule_ids(issues, validation="INVALID"):
    return sorted(set(i["rule_id"] for i in issues if i["validation"] == validation))


def warnings(issues):
    return [i for i in issues if i["validation"] == "CLOSED" and i["severity"] == "warning"]
