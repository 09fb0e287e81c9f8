# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The clients group by another name (mlperf_clients_group): the config check and the plans name it."""
from ansible_collections.mlperf.storage.plugins.filter.input_problems import input_problems
from ansible_collections.mlperf.storage.plugins.plugin_utils import _inputs
from ansible_collections.mlperf.storage.plugins.plugin_utils._kvcache_plan import plan_kvcache
from ansible_collections.mlperf.storage.plugins.plugin_utils._training_plan import plan_training

from test_inputs import GOOD
from test_kvcache_plan import request as kvcache_request
from test_training_plan import make_req


def test_launcher_outside_a_group_of_another_name_names_that_group():
    found = _inputs.settings_problems([GOOD], ["node1", "node2"], "node9", "compute")
    assert [p["variable"] for p in found] == ["mlperf_launcher"]
    assert found[0]["message"].startswith("mlperf_launcher is 'node9', which is not in group 'compute' (node1, node2)")


def test_a_play_host_outside_the_named_group_is_a_problem_naming_the_variable():
    """A play given group 'clients' while the inventory names 'compute' (a playbook of one's own, or --limit)."""
    hosts = [dict(GOOD, host="node1"), dict(GOOD, host="login1", mlperf_mpi_host="10.0.0.9")]
    found = input_problems(hosts, ["node1", "node2"], "node1", "compute")
    assert [p["variable"] for p in found] == ["mlperf_clients_group"]
    assert found[0]["message"] == ("login1 is not in group 'compute', the group mlperf_clients_group names, but the "
                                   "play runs on it: a play chooses its hosts before inventory variables are read")
    assert found[0]["fix"] == ("pass the group as an extra var (-e mlperf_clients_group=compute), so that the plays "
                               "and the checks use the same group")


def test_the_default_group_is_clients():
    found = input_problems([GOOD], ["node2"], "node2")
    assert found[0]["message"].startswith("node1 is not in group 'clients'")


def test_a_plan_without_clients_names_the_group_it_was_given():
    plan = plan_training(make_req(clients=[], clients_group="gpu_nodes"))
    [error] = plan["errors"]
    assert error["message"] == "the inventory group 'gpu_nodes' has no hosts"
    assert error["fix"] == "put the hosts that run benchmark ranks in a group named 'gpu_nodes'"
    plan = plan_kvcache(kvcache_request(clients=[], clients_group="compute"))
    assert any(e["message"] == "the inventory group 'compute' has no hosts" for e in plan["errors"]), plan["errors"]

