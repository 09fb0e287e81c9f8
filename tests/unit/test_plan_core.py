# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan core (plugin_utils/_plan_core.py): structured problems, stopping, the failure message."""
import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils import _plan_core
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_core import Planner, failure_message, plan_function


def test_failure_message_numbers_each_problem_and_offers_allow_invalid_only_for_invalid_findings():
    errors = [_plan_core.problem("mlperf_model", "unknown model", "set mlperf_model"),
              _plan_core.problem("mlperf_params", "the planned run would be INVALID: x", "remove x",
                                 verdict="INVALID")]
    lines = failure_message("training", errors).splitlines()
    assert lines[:5] == ["The training plan has 2 problem(s); nothing was started:",
                         "1. [mlperf_model] unknown model", "   fix: set mlperf_model",
                         "2. [mlperf_params] the planned run would be INVALID: x", "   fix: remove x"]
    assert "mlperf_allow_invalid: true" in lines[-1]
    # an OPEN finding in closed is not helped by allow_invalid, and a message that merely says INVALID is no marker
    opened = [_plan_core.problem("mlperf_division", "the planned run would be INVALID: quoted", "x", verdict="OPEN")]
    assert "mlperf_allow_invalid" not in failure_message("KV-cache", opened)


def test_stop_since_ends_the_build_only_for_new_problems():
    @plan_function("training")
    def build(planner, req):
        planner.fail("mlperf_params", "earlier", "fix it")
        found = len(planner.errors)
        planner.stop(since=found)  # nothing new: the build goes on
        planner.clients()  # none: a problem naming the group
        planner.stop(since=found)
        planner.note("never reached")

    plan = build({"clients": [], "clients_group": "gpu_nodes"})
    assert [e["variable"] for e in plan["errors"]] == ["mlperf_params", "clients"]
    assert plan["errors"][1]["message"] == "the inventory group 'gpu_nodes' has no hosts"
    assert plan["notes"] == []


@pytest.mark.parametrize("value, expected", [(None, {}), ({"a": 1}, {"a": 1}), ([1], None), ("x", None)])
def test_mapping_names_the_variable_of_a_value_that_is_not_one(value, expected):
    planner = Planner("kv_cache", {}, prefix="kvcache")
    assert planner.mapping(value, "kvcache_overrides", "write a mapping") == expected
    if expected is None:
        assert planner.errors == [{"variable": "kvcache_overrides", "fix": "write a mapping",
                                   "message": "kvcache_overrides is a %s; it must be a mapping" % type(value).__name__}]
    else:
        assert planner.errors == []


def test_an_mpi_error_names_the_benchmarks_own_variable():
    planner = Planner("kv_cache", {"paths": {"venv_bin": "/v/bin"},
                                   "mpi": {"implementation": "openmpi", "extra_args": [7]}},
                      prefix="kvcache")
    with pytest.raises(_plan_core.Stop):
        planner.mpi_argv({"hosts": [["h1", 1]], "np": 1, "oversubscribe": False}, ["prog"])
    assert planner.errors[0]["variable"] == "kvcache_mpi_extra_args"
