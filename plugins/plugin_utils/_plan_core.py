# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every benchmark plan does the same way (design.md "plan"): the steps a benchmark's plan shares.

A plan function is written as ``@plan_function("<benchmark>") def build(planner, req)``. The planner collects
problems as structured ``{variable, message, fix}`` entries (plus ``verdict`` for the planned run's own
classification findings) from first to last; ``planner.stop()`` ends the build when what follows needs what
failed; nothing ever leaves a plan as an exception. Shared steps: the request's first check, clients, the rank
layout, the engine generation, MPI command lines, the results paths (rules/layout.py), the metadata envelope,
the rules engine's classification mapped to problems, run counts, and the failure message of a plan that
cannot start. Each benchmark's plan module keeps only what is its own.

Plain Python over plain dicts: the plans are JSON-able and unit-tested without Ansible.
"""
from __future__ import annotations

import functools
import posixpath

from ansible_collections.mlperf.storage.plugins.module_utils import _mpi
from ansible_collections.mlperf.storage.plugins.plugin_utils import _inputs
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import classify_planned_run
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import layout as _layout
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import EditionError, load_edition
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.issues import INVALID, Issue

GIB = 1024 ** 3
RUN_DIR_TOKEN = "@RUN_DIR@"
CONFIG_DIR_NAME = "dlio_workloads"
DEFAULT_CLIENTS_GROUP = "clients"
PLANNED_INVALID = "INVALID"
PLANNED_OPEN = "OPEN"


def problem(variable, message, fix, verdict=None):
    """One structured plan problem; ``verdict`` marks a finding of the planned run's classification."""
    entry = {"variable": variable, "message": message, "fix": fix}
    if verdict:
        entry["verdict"] = verdict
    return entry


def failure_message(label, errors):
    """The terminal text of a plan that cannot start: one numbered problem per entry, each with its fix."""
    lines = ["The %s plan has %d problem(s); nothing was started:" % (label, len(errors))]
    for number, err in enumerate(errors, 1):
        lines.append("%d. [%s] %s" % (number, err["variable"], err["message"]))
        lines.append("   fix: %s" % err["fix"])
    if any(err.get("verdict") == PLANNED_INVALID for err in errors):
        lines.append("A run that is only INVALID can still be made with mlperf_allow_invalid: true "
                     "(recorded in its metadata; never a valid submission).")
    return "\n".join(lines)


# Engine generations whose ranks size their per-host statistics from the rank count of their own host (DLIO 2.0.0's
# StatsCounter: size // npernode): with uneven ranks per host the ranks pass buffers of different sizes to one MPI
# Reduce and wait for each other for ever (seen with host:2,host:1 on the test hosts).
UNEVEN_HANGS = ("pypi-2.0.0",)


class Stop(Exception):
    """Raised by Planner.stop(): the rest of the plan needs what the problems so far are about."""


class Planner:
    """The plan being built (``plan``), its request and the shared steps. Problems go to ``plan["errors"]``."""

    def __init__(self, benchmark, req, prefix=None):
        self.benchmark = benchmark
        self.prefix = prefix or benchmark  # the benchmark role's variable prefix (kv_cache: kvcache)
        self.req = req
        self.plan = {"benchmark": benchmark, "errors": [], "warnings": [], "notes": []}
        self.errors = self.plan["errors"]
        self.reported = set()  # classification parameters already said as a problem of their own

    # -- problems ------------------------------------------------------------------------------------------
    def fail(self, variable, message, fix, verdict=None):
        self.errors.append(problem(variable, message, fix, verdict))

    def stop(self, since=0):
        """End the build here when a problem has been found (after the first ``since`` ones)."""
        if len(self.errors) > since:
            raise Stop()

    def warn(self, text):
        self.plan["warnings"].append(text)

    def note(self, text):
        self.plan["notes"].append(text)

    # -- inputs ----------------------------------------------------------------------------------------------
    def edition(self, benchmark=None):
        """The request's rules edition (an Edition), or a problem when it has no data or lacks the benchmark."""
        name = str(self.req["edition"])
        try:
            edition = load_edition(name)
        except EditionError as exc:
            self.fail("mlperf_edition", str(exc), "set mlperf_edition to a known edition")
            raise Stop()
        benchmark = benchmark or self.benchmark
        if not edition.has_benchmark(benchmark):
            self.fail("mlperf_edition", "edition %s has no %s benchmark" % (name, benchmark),
                      "set mlperf_edition to an edition that has %s" % benchmark)
            raise Stop()
        return edition

    def mapping(self, value, variable, fix, what="a mapping"):
        """``value`` as a dict (None -> {}); a problem naming ``variable`` when it is not a mapping."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(variable, "%s is a %s; it must be %s" % (variable, type(value).__name__, what), fix)
            return None
        return dict(value)

    def clients(self, ranks_of="benchmark ranks"):
        """The request's clients ([{host, mpi_host, memtotal_bytes, cores}]); a problem when there are none."""
        clients = self.req.get("clients") or []
        if not clients:
            group = self.req.get("clients_group") or DEFAULT_CLIENTS_GROUP
            self.fail("clients", "the inventory group '%s' has no hosts" % group,
                      "put the hosts that run %s in a group named '%s'" % (ranks_of, group))
        return clients

    def ranks(self, clients, per_host, variable="mlperf_accelerators_per_host", what="", own=None):
        """The rank layout {hosts, np, oversubscribe}, in client order: ``per_host`` ranks on every client,
        or, with ``own`` (a client record key such as "accelerators_per_host", the host variable read by
        _plan_inputs.client_record), the client's own count where it has one (``host:slots`` of upstream --hosts).
        ``np`` is the sum. A bad count is a problem naming the client when it is the client's own."""
        counts, found = {}, len(self.errors)
        for entry in clients:
            value = entry.get(own) if own else None
            if value is None:
                continue
            number = _inputs.as_int(value)
            if number is None or number < 1:
                self.fail(variable, "%s: %s is %s; it must be a whole number of at least 1"
                          % (entry["host"], variable, _inputs.shown(value)),
                          "set %s%s for %s (a host variable) to a whole number of at least 1"
                          % (variable, what, entry["host"]))
            counts[entry["mpi_host"]] = number
        self.stop(since=found)
        try:
            for entry in clients:
                if entry["mpi_host"] not in counts:
                    counts[entry["mpi_host"]] = int(per_host)
            hosts_slots, np = _mpi.rank_layout([c["mpi_host"] for c in clients], counts)
        except (TypeError, ValueError) as exc:
            self.fail(variable, str(exc), "set %s%s to a whole number of at least 1" % (variable, what))
            raise Stop()
        # per client: one host with fewer cores than ranks needs it even when the total would not
        per_client = [dict(c, ranks=counts[c["mpi_host"]]) for c in clients]
        return {"hosts": [list(h) for h in hosts_slots], "np": np,
                "oversubscribe": oversubscribed(per_client, per_host)}

    def uneven_engine_problems(self, ranks, generation, variable="mlperf_accelerators_per_host"):
        """A problem when the clients' own counts differ and the engine cannot run such a layout; a warning when
        the layout is uneven and the engine was not seen running one."""
        if len(set(count for _, count in ranks["hosts"])) <= 1:
            return
        layout = ",".join("%s:%d" % tuple(h) for h in ranks["hosts"])
        if generation in UNEVEN_HANGS:
            self.fail(variable, "the clients have different rank counts (%s), but the engine of the launcher's "
                                "environment (DLIO generation %s) sizes its per-host statistics from the rank count "
                                "of each rank's own host: its ranks would wait for each other until the run timeout"
                      % (layout, generation),
                      "give every client the same %s (remove the host variables that differ)" % variable)
        else:
            self.warn("uneven ranks per host (%s): engine generation %s was not run with such a layout by this "
                      "collection's tests (DLIO 2.0.0 hangs on it)" % (layout, generation))

    def generation(self):
        """The engine generation named by the launcher's environment lock."""
        generation = (self.req.get("engine") or {}).get("generation")
        if not generation:
            self.fail("mlperf_env_profile", "the launcher's environment lock names no engine generation",
                      "provision the clients with a bundled lock profile (playbooks/provision.yml)")
            raise Stop()
        return generation

    # -- commands --------------------------------------------------------------------------------------------
    @property
    def bin_dir(self):
        return self.req["paths"]["venv_bin"].rstrip("/")

    @property
    def rank_env(self):
        return {"PATH": "%s:/usr/local/bin:/usr/bin:/bin" % self.bin_dir}

    @property
    def config_dir(self):
        """Where every client holds the engine's workload files (the same path on each: the ranks read them)."""
        return "%s/%s" % (self.req["paths"]["work_dir"].rstrip("/"), CONFIG_DIR_NAME)

    @staticmethod
    def config_files(workloads):
        """{file name below config_dir: its text} of the engine's workload definitions ({workload name: mapping}),
        as M(mlperf.storage.engine_config) writes them."""
        from ansible.plugins.filter.core import to_nice_yaml
        return dict(("workload/%s.yaml" % name, str(to_nice_yaml(workload, indent=2)))
                    for name, workload in workloads.items())

    @property
    def mpi_launch(self):
        """The MPI launch as decided: {launcher (path), run_as_root, oversubscribe (None = as the layout needs),
        extra_args (mlperf_mpi_extra_args, for every benchmark)}. The request's settings were checked first
        (_inputs.request_errors), so they are well-formed here."""
        mpi = self.req["mpi"]
        settings = mpi.get("settings") or {}
        name = settings.get("mlperf_mpi_launcher")
        path = mpi.get("mpirun") or "%s/%s" % (self.bin_dir, name or "mpirun")
        if name and posixpath.basename(path) != name:  # MPI was detected through the other launcher of its bin
            path = posixpath.join(posixpath.dirname(path), name)
        allow_root = _inputs.mpi_switch(settings.get("mlperf_mpi_allow_run_as_root"))
        return {"launcher": path, "run_as_root": bool(mpi.get("run_as_root")) if allow_root is None else allow_root,
                "oversubscribe": _inputs.mpi_switch(settings.get("mlperf_mpi_oversubscribe")),
                "extra_args": [str(a) for a in settings.get("mlperf_mpi_extra_args") or []]}

    def mpi_argv(self, ranks, program, extra_args=None):
        """The MPI command line that runs ``program`` on the rank layout, with the launcher's MPI:
        mlperf_mpi_extra_args, then the benchmark's own (``extra_args``, else the request's)."""
        mpi = self.req["mpi"]
        launch = self.mpi_launch
        extra = launch["extra_args"] + (list(mpi.get("extra_args") or []) if extra_args is None else list(extra_args))
        oversubscribe = ranks["oversubscribe"] if launch["oversubscribe"] is None else launch["oversubscribe"]
        if (mpi["implementation"] == _mpi.OPENMPI and mpi.get("run_as_root") and not launch["run_as_root"]
                and "root" not in self.reported):
            self.reported.add("root")
            self.warn("mlperf_mpi_allow_run_as_root is false but the launcher runs as root: Open MPI refuses to start "
                      "unless OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are set in its environment")
        try:
            return _mpi.build_mpi_command(mpi["implementation"], [tuple(h) for h in ranks["hosts"]], ranks["np"],
                                          program, mpirun=launch["launcher"],
                                          env=self.rank_env, run_as_root=launch["run_as_root"],
                                          oversubscribe=oversubscribe, extra_args=extra or None)
        except ValueError as exc:
            # the launcher's MPI is the mpi role's choice; anything else the plan adds comes from the extra args
            variable = ("mpi_implementation" if mpi["implementation"] not in _mpi.IMPLEMENTATIONS
                        else "%s_mpi_extra_args" % self.prefix)
            self.fail(variable, str(exc), "fix the MPI setting the message names")
            raise Stop()

    @property
    def launcher_env(self):
        """The environment of the process that starts MPI on the launcher (MPI passes it on to the ranks)."""
        env = self.rank_env
        return dict(env, **_mpi.launcher_env(self.req["mpi"]["implementation"], env))

    def mpi_command(self, ranks, program, extra_args=None, **fields):
        """A plan command entry {argv, launcher_env, ...}: ``program`` under MPI."""
        return dict(fields, argv=self.mpi_argv(ranks, program, extra_args), launcher_env=self.launcher_env)

    # -- results layout --------------------------------------------------------------------------------------
    def paths(self, model, *commands):
        """The plan's ``paths``: ``model_base``, ``<command>_base`` per command on the results filesystem and
        ``controller_model_base`` in the controller's tree (where the results role verifies)."""
        req = self.req
        key = (req["division"], req["org"], req["system"], self.benchmark, model)
        base = _layout.model_base(req["paths"]["results_dir"], *key)
        controller = req["paths"].get("controller_results_dir") or req["paths"]["results_dir"]
        out = {"model_base": base, "controller_model_base": _layout.model_base(controller, *key)}
        for command in commands:
            out["%s_base" % command] = _layout.command_base(base, self.benchmark, command)
        return out

    # -- metadata and classification -------------------------------------------------------------------------
    def metadata(self, model, num_processes, accelerator, parameters, overrides, args, clients=None,
                 total_memory=None, engine_name=None, **fields):
        """The metadata fields known before a run (rules.md §8.3); the run adds times, outcome and telemetry.

        ``args`` are the benchmark's own; the shared ones (division, names, paths, hosts) are added here."""
        req = self.req
        shared = {"mode": req["division"], "results_dir": req["paths"]["results_dir"], "orgname": req["org"],
                  "systemname": req["system"], "allow_invalid_params": bool(req.get("allow_invalid")), "loops": 1}
        meta = {"benchmark_type": self.benchmark, "model": model, "command": "run", "num_processes": num_processes,
                "accelerator": accelerator, "parameters": parameters, "override_parameters": overrides,
                "edition": str(req["edition"]), "division": req["division"],
                "engine": engine_record(req.get("engine"), engine_name), "tool": {"name": "mlperf.storage"}}
        if clients is not None:
            shared.update(hosts=[c["mpi_host"] for c in clients], num_client_hosts=len(clients))
            meta["system_info"] = system_info(clients, total_memory)
        meta["args"] = dict(shared, **args)
        meta.update(fields)
        return meta

    def classify(self, metadata):
        return classify_planned_run(metadata, edition=str(self.req["edition"]), division=self.req["division"])

    def classification_problems(self, classification, describe, dedupe=True):
        """Problems for the findings that keep the planned run from its division: INVALID ones (unless
        allow_invalid) and, in closed, OPEN ones. ``describe(issue, verdict) -> (variable, fix)``."""
        verdict, division = classification["verdict"], self.req["division"]
        if verdict == PLANNED_INVALID and not self.req.get("allow_invalid"):
            wanted = PLANNED_INVALID
        elif verdict == PLANNED_OPEN and division == "closed":
            wanted = PLANNED_OPEN
        else:
            return
        for issue in classification["issues"]:
            parameter = issue.get("parameter")
            if issue["validation"] != wanted or (dedupe and parameter in self.reported):
                continue
            if dedupe:
                self.reported.add(parameter)
            variable, fix = describe(issue, wanted)
            self.fail(variable, "the planned run would be %s: %s" % (wanted, issue["message"]), fix, verdict=wanted)

    def run_count_problems(self, classification, runs, earlier=None, model=None):
        """A run count the verifier would call INVALID, and runs already in the controller's tree for the same
        system and model (it counts them all as one result): findings of the classification, and problems
        unless allow_invalid."""
        req = self.req
        edition = str(req["edition"])
        found = [(run_count_issue(runs, edition, self.benchmark), _run_count_problem)]
        if req["division"] != "whatif":
            found.append((existing_runs_issue(earlier or [], runs, edition, req, self.benchmark, model),
                          _existing_runs_problem))
        for issue, as_problem in found:
            if not issue:
                continue
            classification["issues"].append(issue)
            classification["verdict"] = PLANNED_INVALID
            if not req.get("allow_invalid"):
                self.errors.append(as_problem(issue))
            self.reported.add(issue["parameter"])


def system_info(clients, total_memory=None):
    """The clients as the metadata's system_info records them (ansible facts, not a collector run)."""
    memories = [int(c.get("memtotal_bytes") or 0) for c in clients]
    return {
        "total_memory_bytes": sum(memories) if total_memory is None else total_memory,
        "total_cores": sum(int(c.get("cores") or 0) for c in clients),
        "num_hosts": len(clients),
        "min_memory_bytes": min(memories) if memories else None,
        "max_memory_bytes": max(memories) if memories else None,
        "collection_method": "ansible-facts",
        "hosts": [{"hostname": c["host"], "memory_bytes": c.get("memtotal_bytes"), "cores": c.get("cores")}
                  for c in clients],
    }


def engine_record(engine, name=None):
    """The engine as recorded in metadata: what the launcher's lock says, ``name`` where the lock names none."""
    record = dict(engine or {})
    if name and not record.get("name"):
        record["name"] = name
    return record


def oversubscribed(clients, per_host):
    """True when some client with a known core count gets more ranks than cores (checked per host; a client's
    own ``ranks`` count, set by Planner.ranks, wins over ``per_host``)."""
    def ranks_of(client):
        return _inputs.as_int(client["ranks"] if client.get("ranks") is not None else per_host) or 0
    return any(_inputs.as_int(c.get("cores")) and ranks_of(c) > _inputs.as_int(c.get("cores")) for c in clients)


def plan_function(benchmark, prefix=None):
    """Make ``build(planner, req)`` a plan function ``plan(req) -> plan``: its request is checked first, a
    ``Stop`` ends it with the problems found, and an exception becomes a named problem, never a traceback."""
    def decorate(build):
        @functools.wraps(build)
        def plan(req):
            planner = Planner(benchmark, req if isinstance(req, dict) else {}, prefix)
            try:
                early = _inputs.request_errors(planner.req)
            except Exception as exc:  # a checker bug must not hide the plan's own messages
                early = []
                planner.warn("input check skipped: %s: %s" % (type(exc).__name__, exc))
            if early:
                planner.errors.extend(early)
                return planner.plan
            try:
                build(planner, planner.req)
            except Stop:
                pass
            except Exception as exc:  # never a traceback: name the input and what to do
                return {"benchmark": benchmark, "warnings": [], "notes": [], "errors": [problem(
                    _inputs.suspect(planner.req, exc),
                    "the %s plan cannot use the inputs it was given (%s: %s)" % (benchmark, type(exc).__name__, exc),
                    "correct the setting the message quotes; if it looks right, report this with the inventory "
                    "variables, since the plan should have named the setting itself")]}
            return planner.plan
        return plan
    return decorate


# ------------------------------------------------------------------------------------------------ run counts

def run_count_issue(runs, edition, benchmark):
    """The verifier's run-count finding for ``runs`` planned runs, as an INVALID issue dict, or None."""
    try:
        section = load_edition(str(edition)).section(benchmark)
    except (EditionError, KeyError, ValueError):
        return None
    need = section.get("runs_per_result")
    if not need:
        return None
    rule = section.get("run_count_rule", "exact")
    number = _inputs.as_int(runs) or 0
    if (number == need) if rule == "exact" else (number >= need):
        return None
    warm = section.get("warmup_runs", 0)
    detail = " (%d warm-up + %d measured)" % (warm, need - warm) if warm else ""
    issue = Issue(INVALID, "mlperf_runs is %d: %d %s run(s) planned; edition %s requires %s %d%s consecutive runs"
                  % (number, number, benchmark, edition, "exactly" if rule == "exact" else "at least", need, detail),
                  parameter="runs", expected=need, actual=number, rule_id="2.1.17", check="run_count_issue")
    return issue.to_dict()


def existing_runs_issue(earlier, runs, edition, req, benchmark, model=None):
    """The finding for adding ``runs`` runs next to ``earlier`` ones ([{name, complete}], from the controller's
    tree) of the same system and model: the verifier counts them all as one result, so any earlier run makes
    the count wrong. None when there are none."""
    if not earlier:
        return None
    try:
        need = load_edition(str(edition)).section(benchmark).get("runs_per_result")
    except (EditionError, KeyError, ValueError):
        need = None
    number = _inputs.as_int(runs) or 0
    complete = sum(1 for run in earlier if run.get("complete"))
    where = "/".join(str(req.get(k, "")) for k in ("division", "org")) + "/results/%s/%s/%s" % (
        req.get("system", ""), benchmark, model if model is not None else req.get("model", ""))
    issue = Issue(INVALID, "the results tree already holds %d run(s) of %s (%d complete, the latest %s); with these "
                  "%d it would hold %d%s" % (len(earlier), where, complete, earlier[-1].get("name"), number,
                                             len(earlier) + number,
                                             ", and edition %s verifies exactly %d per system and model"
                                             % (edition, need) if need else ""),
                  parameter="existing_runs", expected=need, actual=len(earlier) + number, rule_id="2.1.17",
                  check="existing_runs_issue")
    return issue.to_dict()


def _existing_runs_problem(issue):
    return problem("mlperf_system", "the planned run would be INVALID: %s" % issue["message"],
                   "move the earlier run directories out of the results tree (to an archive), or name this system "
                   "differently (mlperf_system), or use new results directories (mlperf_results_dir and "
                   "mlperf_controller_results_dir); mlperf_allow_invalid: true adds the runs anyway, INVALID",
                   verdict=PLANNED_INVALID)


def _run_count_problem(issue):
    return problem("mlperf_runs", "the planned run would be INVALID: %s" % issue["message"],
                   "set mlperf_runs to 0 (the edition's count, %s), or set mlperf_allow_invalid: true for runs "
                   "that are not a result" % issue["expected"], verdict=PLANNED_INVALID)
