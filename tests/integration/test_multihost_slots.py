# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-host slots for real, on two SSH hosts (network namespaces, docs/test-hosts.md ops mode) in an inventory group
named 'compute' (no 'clients' group), each with its own mlperf_accelerators_per_host (2 and 1), the group named
with -e mlperf_clients_group=compute.

1. The uneven MPICH host list the plan builds (addr1:2,addr2:1) places two ranks on the first host and one on the
   second, which reduce together (mpi4py of the embedded environment).
2. The training playbook reads each host's own count from the inventory and plans 3 ranks on addr1:2,addr2:1;
   the embedded engine (PyPI DLIO 2.0.0) would hang on such a layout (its per-host statistics assume the same
   rank count on every host: seen here before the plan refused it), so the plan stops before anything runs,
   naming the layout and the fix.
"""
import json
import os
import shlex

import pytest

from _faultkit import TINY, recap, run_dirs, run_training
from ansible_collections.mlperf.storage.plugins.module_utils._mpi import build_mpi_command
from test_multihost_training import async_dir, host_vars
from test_netns_harness import ALLREDUCE, ssh_ok

pytestmark = [pytest.mark.multihost, pytest.mark.integration]

PER_HOST = ("from mpi4py import MPI; c = MPI.COMM_WORLD; "
            "s = c.Split_type(MPI.COMM_TYPE_SHARED); print('rank=%d ranks_on_my_host=%d' % (c.rank, s.size), flush=True)")


def test_uneven_slots_on_a_compute_group(netns_hosts, tmp_path, embedded_env):
    harness = netns_hosts(n=2, shared_data=True, ops=True)
    first, second = harness.hosts
    mpirun, python = os.path.join(embedded_env, "bin", "mpirun"), os.path.join(embedded_env, "bin", "python")
    layout = [(first.address, 2), (second.address, 1)]

    # --- 1: the uneven host list runs where it says -------------------------------------------------------------
    command = build_mpi_command("mpich", layout, 3, [python, "-c", ALLREDUCE], mpirun=mpirun)
    assert command[:5] == [mpirun, "-n", "3", "-hosts", "%s:2,%s:1" % (first.address, second.address)]
    lines = sorted(ssh_ok(harness, first.inventory_name, shlex.join(command), timeout=120).splitlines())
    assert lines == ["rank=0 host=node1 total=6 mark=None", "rank=1 host=node1 total=6 mark=None",
                     "rank=2 host=node2 total=6 mark=None"]
    command = build_mpi_command("mpich", layout, 3, [python, "-c", PER_HOST], mpirun=mpirun)
    lines = sorted(ssh_ok(harness, first.inventory_name, shlex.join(command), timeout=120).splitlines())
    assert lines == ["rank=0 ranks_on_my_host=2", "rank=1 ranks_on_my_host=2", "rank=2 ranks_on_my_host=1"]

    # --- 2: the playbook plans that layout from the host variables; the embedded engine cannot run it --------
    extra, launcher, controller = host_vars(harness, tmp_path)
    extra.pop("mlperf_accelerators_per_host")  # an extra var would override every host's own count
    extra["mlperf_clients_group"] = "compute"
    inventory = harness.inventory()
    group = inventory["all"]["children"].pop("clients")
    group["vars"]["mlperf_accelerators_per_host"] = TINY["mlperf_accelerators_per_host"]
    group["hosts"][first.inventory_name]["mlperf_accelerators_per_host"] = 2
    inventory["all"]["children"]["compute"] = group
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory, indent=2))

    out = run_training(tmp_path, str(path), extra, "slots", timeout=900, async_dir=async_dir(harness))
    rc = recap(out)
    assert "failed=1" in rc[first.inventory_name], out[-6000:]
    assert "Traceback (most recent call last)" not in out
    text = " ".join(out.split())
    assert ("[mlperf_accelerators_per_host] the clients have different rank counts (%s:2,%s:1), but the engine of "
            "the launcher's environment (DLIO generation pypi-2.0.0)" % (first.address, second.address)) in text, \
        out[-6000:]
    assert "fix: give every client the same mlperf_accelerators_per_host" in text
    assert run_dirs(launcher) == [] and run_dirs(launcher, "datagen") == []
