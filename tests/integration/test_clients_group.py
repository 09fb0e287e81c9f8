# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An existing inventory whose compute nodes are in a group that is not called ``clients``.

Runs the real playbooks/preflight.yml and playbooks/run_training.yml (the real DLIO of the embedded environment,
tiny sizing) on an inventory with a ``compute`` group and no ``clients`` group at all, naming the group with
``-e mlperf_clients_group=compute``; and the ways of naming it wrongly, which must stop before anything runs with
a message naming the variable and the fix: the group set in the inventory only (a play chooses its hosts before
inventory variables are read), a group that does not exist, an empty group.
"""
import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

from _faultkit import TINY, check_manifest, metadata, playbook_bin
from _testpaths import REPO

pytestmark = pytest.mark.integration

TRACEBACK = "Traceback (most recent call last)"


def host(**extra):
    return dict({"ansible_connection": "local", "ansible_python_interpreter": sys.executable}, **extra)


def write_inventory(tmp_path, groups, group_vars=None, name="inventory.yml"):
    """``groups``: {group: {host: hostvars} or None (an empty group)}; ``group_vars``: {group: vars}."""
    children = {}
    for group, hosts in groups.items():
        children[group] = {"hosts": hosts or None}
        if group_vars and group in group_vars:
            children[group]["vars"] = group_vars[group]
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"all": {"children": children}}))
    return str(path)


def run(tmp_path, playbook, inventory, extra, log_name, timeout=900):
    extra_file = tmp_path / (log_name + "-extra.json")
    extra_file.write_text(json.dumps(extra))
    argv = [playbook_bin(), "-i", inventory, os.path.join(REPO, "playbooks", playbook), "-e", "@%s" % extra_file]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_ASYNC_DIR=str(tmp_path / "async"))
    proc = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
    (tmp_path / (log_name + ".log")).write_text(proc.stdout)
    return proc.returncode, proc.stdout


def sizing(dirs, **extra):
    settings = dict(TINY, mlperf_results_dir=str(dirs["results"]), mlperf_data_dir=str(dirs["data"]),
                    mlperf_work_dir=str(dirs["work"]))
    settings.update(extra)
    return settings


def assert_nothing_started(rc, out, dirs, *expected):
    assert rc != 0, out[-3000:]
    assert TRACEBACK not in out, out[-3000:]
    text = " ".join(out.split())  # messages are folded over lines
    for piece in expected:
        assert " ".join(piece.split()) in text, out[-3000:]
    for path in dirs.values():
        assert os.listdir(str(path)) == [], "%s was written to: %s" % (path, os.listdir(str(path)))


def test_preflight_and_training_on_a_compute_group(tmp_path, dirs, embedded_env):
    """The second 'Done when' line of issue 14: no 'clients' group, the compute group named by an extra var."""
    inventory = write_inventory(tmp_path, {"compute": {"localhost": host()}})
    # and the MPI launch chosen as upstream's --mpi-bin mpiexec, --mpi-params, --oversubscribe would (docs/migrating.md)
    settings = sizing(dirs, mlperf_clients_group="compute", python_env_dir=embedded_env, mlperf_mpi_launcher="mpiexec",
                      mlperf_mpi_extra_args=["-genv", "MLPERF_TEST_MARK", "issue14"], mlperf_mpi_oversubscribe=True)

    rc, out = run(tmp_path, "preflight.yml", inventory, settings, "preflight")
    assert rc == 0, out[-4000:]
    assert "PLAY [Check the inventory contract: group compute]" in out
    assert "preflight: all 1 clients ready" in out
    assert "skipping: no hosts matched" not in out and "Could not match supplied host pattern" not in out

    rc, out = run(tmp_path, "run_training.yml", inventory, settings, "training")
    assert rc == 0, out[-4000:]
    assert TRACEBACK not in out
    [leaf] = [p for p in glob.glob(str(dirs["results"] / "open" / "faults" / "results" / "ns" / "training" / "unet3d"
                                       / "run" / "*")) if os.path.isdir(p)]
    check_manifest(leaf)
    meta = metadata(leaf)
    assert meta["num_processes"] == 1 and meta["args"]["hosts"] == ["localhost"]
    argv = meta["executed_argv"]
    assert argv[0] == os.path.join(embedded_env, "bin", "mpiexec"), argv
    at = argv.index("MLPERF_TEST_MARK")
    assert argv[at - 1:at + 2] == ["-genv", "MLPERF_TEST_MARK", "issue14"] and argv[at + 2].endswith("/dlio_benchmark")
    assert os.path.exists(os.path.join(leaf, "summary.json"))


def test_group_set_only_in_the_inventory_stops_before_anything_runs(tmp_path, dirs):
    """The plays would run on 'clients' (absent here: nothing would run at all): the first play says why."""
    inventory = write_inventory(tmp_path, {"compute": {"localhost": host()}},
                                group_vars={"compute": {"mlperf_clients_group": "compute"}})
    rc, out = run(tmp_path, "run_training.yml", inventory, sizing(dirs), "inventory-only")
    assert_nothing_started(rc, out, dirs,
                           "mlperf_clients_group is 'compute' in the inventory (for localhost), but the plays run on "
                           "group 'clients': a play chooses its hosts before inventory variables are read",
                           "Run with -e mlperf_clients_group=compute")
    assert "PLAY [MLPerf Storage training benchmark]" not in out


def test_group_set_only_in_the_inventory_with_a_clients_group_too(tmp_path, dirs):
    """A 'clients' group also exists: the plays would run on the wrong hosts; stopped in the first play."""
    inventory = write_inventory(tmp_path, {"compute": {"localhost": host()}, "clients": {"node9": host()}},
                                group_vars={"compute": {"mlperf_clients_group": "compute"}})
    rc, out = run(tmp_path, "preflight.yml", inventory, sizing(dirs), "both-groups")
    assert_nothing_started(rc, out, dirs, "mlperf_clients_group is 'compute' in the inventory",
                           "-e mlperf_clients_group=compute")
    assert "PLAY [Preflight checks on every client]" not in out


@pytest.mark.parametrize("playbook", ["preflight.yml", "run_training.yml"])
def test_a_group_that_does_not_exist(tmp_path, dirs, playbook):
    inventory = write_inventory(tmp_path, {"compute": {"localhost": host()}})
    rc, out = run(tmp_path, playbook, inventory, sizing(dirs, mlperf_clients_group="gpu_nodes"), "missing")
    assert_nothing_started(rc, out, dirs, "The inventory has no hosts in group 'gpu_nodes'",
                           "name the group they are in with -e mlperf_clients_group=<group> (there is no such group; "
                           "the groups of this inventory: compute)")


def test_an_empty_group(tmp_path, dirs):
    inventory = write_inventory(tmp_path, {"compute": {"localhost": host()}, "gpu_nodes": None})
    rc, out = run(tmp_path, "run_training.yml", inventory, sizing(dirs, mlperf_clients_group="gpu_nodes"), "empty")
    assert_nothing_started(rc, out, dirs, "The inventory has no hosts in group 'gpu_nodes'", "the group is empty")
