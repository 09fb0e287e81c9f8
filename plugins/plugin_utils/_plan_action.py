# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one action base of the four plan actions (plugins/action/*_plan.py).

An action names its benchmark's plan function, its own options and how its own arguments enter the request;
this base validates the arguments (the shared ones are documented once, in the doc fragment
``mlperf.storage.plan``), reads what the plans need from ``hostvars`` (clients' facts, the launcher's
environment lock and MPI, via _plan_inputs), calls the plan and returns it, or fails with the plan core's
numbered message and the structured ``errors``.
"""
from __future__ import annotations

from ansible_collections.mlperf.storage.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_core import failure_message
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_inputs import (
    client_record, launcher_engine, launcher_mpi)

# Options of every plan (doc fragment mlperf.storage.plan).
COMMON_OPTIONS = dict(
    edition=dict(type="str", required=True),
    division=dict(type="str", required=True),
    launcher=dict(type="str", required=True),
    org=dict(type="str", required=True),
    system=dict(type="str", required=True),
    paths=dict(type="dict", required=True),
    allow_invalid=dict(type="bool", default=False),
)
# Options of the plans whose ranks run on the clients under MPI (doc fragment mlperf.storage.plan.clients).
CLIENT_OPTIONS = dict(
    clients=dict(type="list", elements="str", required=True),
    clients_group=dict(type="str", default="clients"),
    mpi_extra_args=dict(type="list", elements="str", default=[]),
)
# Options of the plans of the DLIO benchmarks, training and checkpointing (doc fragment mlperf.storage.plan.dlio).
DLIO_OPTIONS = dict(
    model=dict(type="str", required=True),
    accelerator=dict(type="str", required=True),
    params=dict(type="raw", default={}),  # type checked by the plan, which names mlperf_params
    accelerators_per_host=dict(type="int", required=True),
)


def argument_spec(own, clients=True, dlio=False):
    """The whole argument spec of a plan action: the shared options and the benchmark's ``own``."""
    spec = dict(COMMON_OPTIONS)
    if clients:
        spec.update(CLIENT_OPTIONS)
    if dlio:
        spec.update(DLIO_OPTIONS)
    spec.update(own)
    return spec


class PlanAction(ControllerAction):
    """Subclasses set LABEL (the plan's name in messages), ARGUMENT_SPEC and plan(), and may extend request()."""

    LABEL = ""

    def plan(self, req):  # pragma: no cover - every subclass names its plan function
        raise NotImplementedError

    def request(self, args, hostvars):
        """The plan request: the shared settings as the plans expect them, then the action's own arguments."""
        launcher_vars = hostvars.get(args["launcher"], {})
        req = dict(args)
        req.update(edition=str(args["edition"]), division=str(args["division"]), paths=dict(args["paths"]),
                   allow_invalid=bool(args.get("allow_invalid")), engine=launcher_engine(launcher_vars))
        if "clients" in args:
            req["clients"] = [client_record(h, hostvars.get(h, {})) for h in args["clients"]]
            req["mpi"] = launcher_mpi(launcher_vars, args.get("mpi_extra_args"))
        return req

    def act(self, result, args, task_vars):
        plan = self.plan(self.request(dict(args), task_vars.get("hostvars", {})))
        if plan["errors"]:
            # the problems only: the whole plan would bury the message under pages of JSON
            result.update(changed=False, failed=True, msg=failure_message(self.LABEL, plan["errors"]),
                          errors=plan["errors"], plan_warnings=plan["warnings"])
        else:
            result.update(changed=False, plan=plan)
        return result
