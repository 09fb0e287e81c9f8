# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Subset mode (checkpointing_subset, upstream --checkpoint-subset) through the real playbook, in the replay
environment of test_checkpointing_replay: the CLOSED llama3-8b subset is planned, launched on 8 ranks, recorded and
verified CLOSED; the same tree claiming another model is INVALID by rule 4.3.5; a CLOSED subset of another model
stops at the plan; an OPEN subset of llama3-70b is planned with upstream's DLIO overrides (--check)."""
import json
import os
import shutil

import pytest

from _faultkit import assert_refused_up_front
from harness.plays import artifact_data, run_project_playbook
from test_checkpointing_replay import (_require_engine_host, base_vars, dirs, metadata_path,  # noqa: F401
                                       replayed_leaves, run_playbook, scratch_env)

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_tree

pytest.importorskip("ansible_runner")

pytestmark = pytest.mark.integration


def _rule(run, rule_id):
    return [issue for issue in run["issues"] if issue.get("rule_id") == rule_id]


def test_closed_llama3_8b_subset_replayed_recorded_and_verified(tmp_path, dirs):  # noqa: F811
    _require_engine_host()
    extravars = dict(base_vars(dirs), checkpointing_subset=True, **scratch_env(tmp_path, "replay-dlio-mlperf.txt"))
    result, out = run_playbook(tmp_path, extravars, "subset")
    assert "Traceback" not in out
    leaves = replayed_leaves(dirs)
    assert len(leaves) == 1, out[-3000:]
    meta_path = metadata_path(leaves[0])
    meta = json.loads(meta_path.read_text())
    # recorded the way the verifier reads a subset run: the declared flag; 8 of llama3-8b's 8 ranks run the full
    # invocation, so no subset override reached the engine (the MLPerf DLIO refuses data 8/8 = 1 on 8 ranks)
    assert meta["args"]["checkpoint_subset"] is True and meta["num_processes"] == 8 and meta["exit_status"] == 0
    assert "checkpoint.mode" not in meta["override_parameters"]
    argv = meta["executed_argv"]
    assert argv[argv.index("-np") + 1] == "8"
    assert not [a for a in argv if "checkpoint.mode" in a or "parallelism.data" in a]
    assert "declared subset run (args.checkpoint_subset, rules 4.3.5)" in out
    same_fs = os.stat(dirs["data"]).st_dev == os.stat(str(dirs["results"])).st_dev
    assert artifact_data(result)["mlperf_verdict"] == ("INVALID" if same_fs else "CLOSED"), out[-3000:]

    report = verify_tree(str(dirs["results"])).to_dict()
    [run] = report["runs"]
    [rule] = _rule(run, "4.3.5")
    assert rule["validation"] == "CLOSED" and "subset run of llama3-8b on 8 processes" in rule["message"]

    # the same tree claiming llama3-70b: a CLOSED subset of another model is INVALID
    wrong = tmp_path / "wrong-model"
    shutil.copytree(str(dirs["results"]), str(wrong))
    copied = wrong / meta_path.relative_to(dirs["results"])
    changed = json.loads(copied.read_text())
    changed["model"] = "llama3-70b"
    copied.write_text(json.dumps(changed, indent=2))
    report = verify_tree(str(wrong), checksums="presence").to_dict()
    assert report["verdict"] == "INVALID"
    [run] = report["runs"]
    [rule] = _rule(run, "4.3.5")
    assert rule["validation"] == "INVALID"
    assert "a declared subset run (args.checkpoint_subset) is only valid for llama3-8b on exactly 8 processes " \
           "(got llama3-70b on 8)" == rule["message"]


def test_closed_subset_of_llama3_70b_stops_at_the_plan(tmp_path, dirs):  # noqa: F811
    _require_engine_host()
    extravars = dict(base_vars(dirs), mlperf_model="llama3-70b", checkpointing_subset=True,
                     **scratch_env(tmp_path, "replay-dlio-mlperf.txt"))
    result, out = run_playbook(tmp_path, extravars, "subset-70b")
    assert_refused_up_front(result, out, dirs["results"],
                            "[checkpointing_subset] checkpointing_subset is true, but CLOSED allows subset mode only "
                            "for llama3-8b on exactly 8 processes (rules 4.3.5), not for llama3-70b",
                            "or set mlperf_division: open for a subset of it")
    assert not os.path.exists(dirs["data"] + "/checkpoints")


def test_open_subset_of_llama3_70b_is_planned_with_the_upstream_overrides(tmp_path, dirs):  # noqa: F811
    _require_engine_host()
    extravars = dict(base_vars(dirs), mlperf_division="open", mlperf_model="llama3-70b", checkpointing_subset=True,
                     **scratch_env(tmp_path, "replay-dlio-mlperf.txt"))
    result, out = run_project_playbook(tmp_path, "playbooks/run_checkpointing.yml", extravars, "subset-open",
                                       cmdline="--check")
    assert result.rc == 0, out[-4000:]
    assert "subset mode: 8 of the 64 ranks of a full llama3-70b run (checkpoint.mode subset, " \
           "model.parallelism.data 8), 113.9 GB per checkpoint" in out
    assert "planned verdict: OPEN" in out
    assert not any(dirs["results"].iterdir()) and not os.path.exists(dirs["data"] + "/checkpoints")
