# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/datasize.yml for real with ansible-playbook, on the controller alone (no inventory, no client): the
4 hosts x 512 GiB x 8 b200 unet3d example printed, the datasize leaf written only when asked, never over an
earlier one, and verifying with no datasize finding against it; bad input stopped with the variable and its fix."""
import glob
import json
import math
import os
import subprocess

import pytest
import yaml

from _testpaths import REPO
from test_bad_input import TRACEBACK, playbook_bin, snapshot
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_tree

pytestmark = pytest.mark.integration

GIB = 1024 ** 3
EXAMPLE = {"mlperf_model": "unet3d", "mlperf_accelerator": "b200", "mlperf_num_client_hosts": 4,
           "mlperf_client_memory_gb": 512, "mlperf_accelerators_per_host": 8}


def expected_files():
    """rules.md 3.4 (v3.x): max(ceil(5 x memory / record length), 500 steps x accelerators x batch), from the
    workload file."""
    with open(os.path.join(REPO, "plugins", "plugin_utils", "data", "workloads", "unet3d_b200.yaml")) as handle:
        wl = yaml.safe_load(handle)
    record, batch = wl["dataset"]["record_length_bytes"], wl["reader"]["batch_size"]
    return max(math.ceil(5 * 4 * 512 * GIB / record), 500 * 32 * batch)


def config_defaults():
    with open(os.path.join(REPO, "roles", "config", "defaults", "main.yml")) as handle:
        return yaml.safe_load(handle)


def datasize(tmp_path, extra, check=False):
    """ansible-playbook playbooks/datasize.yml with no inventory; returns (rc, output)."""
    path = tmp_path / ("extra-%d.yml" % len(list(tmp_path.glob("extra-*.yml"))))
    path.write_text(yaml.safe_dump(extra))
    argv = [playbook_bin(), os.path.join(REPO, "playbooks", "datasize.yml"), "-e", "@%s" % path]
    if check:
        argv.append("--check")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"))
    proc = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=300)
    (tmp_path / "datasize.log").write_text(proc.stdout)
    return proc.returncode, proc.stdout


def leaves(results):
    return sorted(glob.glob(os.path.join(str(results), "*", "*", "results", "*", "training", "unet3d", "datasize",
                                         "*")))


def test_the_example_is_printed_and_nothing_is_written(tmp_path):
    results = tmp_path / "results"
    rc, out = datasize(tmp_path, dict(EXAMPLE, mlperf_controller_results_dir=str(results)))
    assert rc == 0, out[-3000:]
    assert "Required: %d training files in 0 subfolders" % expected_files() in out
    assert "The step term dominates" in out
    assert "workload unet3d_b200 (record_length_bytes 146600628" in out
    assert "memory dominates for 4-20; steps dominate for 24-32" in out
    assert TRACEBACK not in out
    assert not results.exists()


def test_the_leaf_is_written_when_asked_never_over_another_and_verifies(tmp_path):
    results = tmp_path / "results"
    rc, out = datasize(tmp_path, dict(EXAMPLE, mlperf_datasize_write=True, mlperf_controller_results_dir=str(results)))
    assert rc == 0, out[-3000:]
    first = leaves(results)
    assert len(first) == 1
    defaults = config_defaults()  # org, system and data directory default as in the config role
    assert os.path.relpath(first[0], str(results)).split(os.sep)[:4] == [
        defaults["mlperf_division"], defaults["mlperf_org"], "results", defaults["mlperf_system"]]
    stamp = os.path.basename(first[0])
    assert os.listdir(first[0]) == ["training_%s_metadata.json" % stamp]
    assert "Datasize leaf written: %s/training_%s_metadata.json" % (first[0], stamp) in out
    with open(os.path.join(first[0], "training_%s_metadata.json" % stamp)) as handle:
        meta = json.load(handle)
    assert meta["command"] == "datasize" and meta["run_datetime"] == stamp
    assert meta["parameters"]["dataset"]["num_files_train"] == expected_files()
    assert meta["args"]["max_accelerators"] == 32 and meta["args"]["data_dir"] == defaults["mlperf_data_dir"]

    before = snapshot(results)
    rc, out = datasize(tmp_path, dict(EXAMPLE, mlperf_datasize_write=True, mlperf_controller_results_dir=str(results),
                                      mlperf_max_accelerators=64))
    assert rc == 0, out[-3000:]
    after = snapshot(results)
    assert {k: after.get(k) for k in before} == before  # the first leaf is untouched
    second = [leaf for leaf in leaves(results) if leaf not in first]
    assert len(second) == 1

    report = verify_tree(str(results)).to_dict()
    for run in report["runs"]:
        assert run["command"] == "datasize" and run["verdict"] == "CLOSED", run
    # the tree holds no datagen and no runs yet (INVALID for that), but nothing is said against the datasize leaves
    for result in report["submissions"]:
        for issue in result["issues"]:
            if issue["validation"] == "INVALID":
                assert issue.get("rule_id") not in ("2.1.12", "3.3.1") and "DATASIZE" not in issue["message"], issue


def test_check_mode_writes_nothing(tmp_path):
    results = tmp_path / "results"
    rc, out = datasize(tmp_path, dict(EXAMPLE, mlperf_datasize_write=True, mlperf_controller_results_dir=str(results)),
                       check=True)
    assert rc == 0, out[-3000:]
    assert "Check mode: a new datasize leaf would be made in %s/closed/" % results in out
    assert not results.exists()


def test_a_checkpointing_model_prints_checkpoint_sizes(tmp_path):
    rc, out = datasize(tmp_path, {"mlperf_model": "llama3-70b", "mlperf_accelerator": "b200",
                                  "mlperf_num_client_hosts": 8, "mlperf_client_memory_gb": 16,
                                  "mlperf_accelerators_per_host": 8})
    assert rc == 0, out[-3000:]
    assert "Per checkpoint: 911.00 GB in total" in out  # rules.md 2.2: 130 GB model + 781 GB optimizer
    assert "Totals: 10 writes = 9,110.00 GB written, 10 reads = 9,110.00 GB read" in out


@pytest.mark.parametrize("extra, expected", [
    ({}, ["[mlperf_model] mlperf_model is not set", "fix: pass it, e.g. -e mlperf_model=unet3d",
          "[mlperf_num_client_hosts] mlperf_num_client_hosts is not set"]),
    (dict(EXAMPLE, mlperf_accelerator="mi355", mlperf_client_memory_gb=0),
     ["[mlperf_accelerator] 'mi355' is not available for mlperf_model 'unet3d'",
      "[mlperf_client_memory_gb] mlperf_client_memory_gb is 0",
      "fix: set mlperf_client_memory_gb to the memory of each host in GiB"]),
    (dict(EXAMPLE, mlperf_max_accelerators=16, mlperf_datasize_write=True),
     ["[mlperf_max_accelerators] mlperf_max_accelerators is 16, below the 32 accelerators"]),
])
def test_bad_input_stops_with_the_variable_and_the_fix(tmp_path, extra, expected):
    results = tmp_path / "results"
    rc, out = datasize(tmp_path, dict(extra, mlperf_controller_results_dir=str(results)))
    assert rc != 0
    assert "The datasize plan has" in out
    for text in expected:
        assert text in out, "%r not in the output:\n%s" % (text, out[-3000:])
    assert TRACEBACK not in out
    assert not results.exists()
