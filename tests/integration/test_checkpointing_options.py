# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upstream checkpointing options through the real playbook (the replay environment of test_checkpointing_replay):
configview is --check (the plan shown, nothing made), and the checkpoint counts change in OPEN only."""
import os

import pytest

from _faultkit import assert_refused_up_front
from harness.plays import run_project_playbook
from test_checkpointing_replay import _require_engine_host, base_vars, dirs, run_playbook, scratch_env  # noqa: F401

pytest.importorskip("ansible_runner")

pytestmark = pytest.mark.integration


def test_configview_is_check_mode_and_open_counts_are_planned(tmp_path, dirs):  # noqa: F811
    _require_engine_host()
    extravars = dict(base_vars(dirs), **scratch_env(tmp_path, "replay-dlio-mlperf.txt"))
    result, out = run_project_playbook(tmp_path, "playbooks/run_checkpointing.yml", extravars, "configview",
                                       cmdline="--check")
    assert result.rc == 0, out[-4000:]
    assert "invocations: run (10 writes, 10 reads)" in out and "planned verdict: CLOSED" in out
    assert not any(dirs["results"].iterdir()) and not os.path.exists(dirs["data"] + "/checkpoints")

    opened = dict(extravars, mlperf_division="open", checkpointing_num_checkpoints_write=3,
                  checkpointing_num_checkpoints_read=2)
    result, out = run_project_playbook(tmp_path, "playbooks/run_checkpointing.yml", opened, "open-counts",
                                       cmdline="--check")
    assert result.rc == 0, out[-4000:]
    assert "invocations: run (3 writes, 2 reads)" in out and "planned verdict: OPEN" in out
    assert "3 checkpoint writes and 2 reads (the rules' result has 10 of each; OPEN only)" in out


def test_closed_refuses_other_checkpoint_counts_before_anything(tmp_path, dirs):  # noqa: F811
    _require_engine_host()
    extravars = dict(base_vars(dirs), checkpointing_num_checkpoints_read=5,
                     **scratch_env(tmp_path, "replay-dlio-mlperf.txt"))
    result, out = run_playbook(tmp_path, extravars, "closed-counts")
    assert_refused_up_front(result, out, dirs["results"], "checkpointing_num_checkpoints_read is 5; CLOSED writes and "
                            "reads exactly 10 checkpoints", "or set mlperf_division: open")
    assert not os.path.exists(dirs["data"] + "/checkpoints")
