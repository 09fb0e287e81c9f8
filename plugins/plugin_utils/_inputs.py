# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every setting checked before anything runs, each problem naming the host, the variable, what was expected
and the fix. Plain Python over plain values (docs/bad-input.md lists every check and the test that proves it).

- ``settings_problems``: the config role's check of the collection-wide settings of every client (types,
  ranges, paths, names, MPI host names), before preflight probes anything.
- ``request_errors``: the plans' own first check of their request (the same checks, plus what needs the
  clients' facts), made by the plan core (_plan_core.plan_function) before any plan step.
"""
from __future__ import annotations

import posixpath
import re

from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import loader as _loader

DIVISIONS = ("closed", "open", "whatif")
# Ansible's own boolean words (what `| bool` and the argument specs accept), so -e key=value strings work.
TRUE_WORDS = ("y", "yes", "on", "1", "true", "t")
FALSE_WORDS = ("n", "no", "off", "0", "false", "f")
SEGMENT_RE = re.compile(r"^[A-Za-z0-9._-]+$")
# More ranks than this per core cannot keep up with the simulated accelerators; the run would only end
# INVALID (accelerator utilisation) after hours.
MAX_RANKS_PER_CORE = 8

# integer settings: variable -> (minimum, what it is)
INT_SETTINGS = {
    "mlperf_accelerators_per_host": (1, "simulated accelerators (MPI ranks) per client"),
    "mlperf_runs": (0, "runs to make; 0 = the edition's count"),
    "mlperf_run_timeout": (1, "seconds one engine run may take"),
}
FLOAT_SETTINGS = {
    "mlperf_client_memory_gb": (0, "GiB of memory per client for the dataset size; 0 = the real MemTotal"),
}
BOOL_SETTINGS = ("mlperf_allow_invalid", "mlperf_drop_caches", "mlperf_create_dirs")
SEGMENT_SETTINGS = ("mlperf_org", "mlperf_system")
PATH_SETTINGS = ("mlperf_data_dir", "mlperf_results_dir", "mlperf_work_dir", "mlperf_controller_results_dir")
# Seconds between progress lines of each benchmark role: the playbook divides the run timeout by it.
PROGRESS_SETTINGS = ("training_progress_interval", "checkpointing_progress_interval",
                     "kvcache_progress_interval", "vectordb_progress_interval")
# The MPI launch (upstream --mpi-bin, --oversubscribe, --allow-run-as-root, --mpi-params).
MPI_LAUNCHERS = ("mpirun", "mpiexec")
MPI_SWITCHES = {
    "mlperf_mpi_oversubscribe": "--oversubscribe (Open MPI): auto = when a client gets more ranks than cores",
    "mlperf_mpi_allow_run_as_root": "--allow-run-as-root (Open MPI): auto = when the launcher runs as root",
}
MPI_EXTRA_ARGS = "mlperf_mpi_extra_args"
HEARTBEAT_SETTING = "run_phase_heartbeat_timeout"
HEARTBEAT_DEFAULT = 180

# Directory pairs that must not be equal or nested, with why.
_PAIRS = (
    ("mlperf_data_dir", "mlperf_results_dir",
     "the rules need the dataset and the results apart, and the verifier would walk the other tree"),
    ("mlperf_data_dir", "mlperf_work_dir",
     "engine configs and telemetry spool would land in the dataset (or the dataset in the scratch space)"),
    ("mlperf_results_dir", "mlperf_work_dir",
     "scratch files would land in the results tree (or run directories in the scratch space)"),
    ("mlperf_controller_results_dir", "mlperf_data_dir",
     "the collected results would land in the dataset (or the dataset in the results tree)"),
    ("mlperf_controller_results_dir", "mlperf_work_dir",
     "the collected results would land in the scratch space (or the scratch space in the results tree)"),
)

# DLIO workload parameters that are whole numbers with a floor, and what they are. A value below the floor
# either divides by zero inside the engine or makes a run that measures nothing, after the dataset is built.
DLIO_INT_MINIMUMS = {
    "dataset.num_files_train": (1, "training files"),
    "dataset.num_files_eval": (0, "evaluation files"),
    "dataset.num_samples_per_file": (1, "samples per file"),
    "dataset.num_subfolders_train": (0, "training subfolders"),
    "dataset.num_subfolders_eval": (0, "evaluation subfolders"),
    "dataset.record_length": (1, "bytes per sample"),
    "dataset.record_length_bytes": (1, "bytes per sample"),
    "dataset.record_length_bytes_stdev": (0, "spread of the bytes per sample"),
    "dataset.record_length_bytes_resize": (0, "bytes per sample after the in-memory resize"),
    "reader.batch_size": (1, "samples per batch"),
    "reader.batch_size_eval": (1, "samples per evaluation batch"),
    "reader.read_threads": (1, "reader workers per rank"),
    "reader.computation_threads": (1, "computation threads per rank"),
    "reader.prefetch_size": (0, "batches prefetched"),
    "reader.transfer_size": (1, "bytes per read call"),
    "train.epochs": (1, "epochs"),
    "evaluation.epochs_between_evals": (1, "epochs between evaluations"),
    "checkpoint.num_checkpoints_write": (0, "checkpoints written"),
    "checkpoint.num_checkpoints_read": (0, "checkpoints read"),
    "checkpoint.tensor_parallelism": (1, "tensor parallel degree"),
    "checkpoint.pipeline_parallelism": (1, "pipeline parallel degree"),
}


def _problem(variable, message, fix, host=None):
    return {"host": host, "variable": variable, "message": message, "fix": fix}


def as_int(value):
    """A whole number from an int, an integral float or a digit string (what -e key=value gives); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.match(r"^\s*[+-]?\d+\s*$", value):
        return int(value)
    return None


def as_float(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def is_boolean(value):
    """True when Ansible reads the value as a boolean without guessing."""
    if isinstance(value, bool):
        return True
    if isinstance(value, (int, float)):
        return value in (0, 1)
    return isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS


def _shown(value):
    return "'%s'" % value if isinstance(value, str) else "%r" % (value,)


shown = _shown  # a value as the messages quote it (the plan core's messages too)


# --------------------------------------------------------------------------------------------------- one value

def int_problems(variable, value, minimum, what):
    number = as_int(value)
    if number is None:
        return [_problem(variable, "%s is %s; it must be a whole number (%s)" % (variable, _shown(value), what),
                         "set %s to a whole number of at least %d" % (variable, minimum))]
    if number < minimum:
        return [_problem(variable, "%s is %d; it must be at least %d (%s)" % (variable, number, minimum, what),
                         "set %s to %d or more" % (variable, minimum))]
    return []


def float_problems(variable, value, minimum, what):
    number = as_float(value)
    if number is None or number != number:  # NaN is not a size either
        return [_problem(variable, "%s is %s; it must be a number (%s)" % (variable, _shown(value), what),
                         "set %s to a number of at least %s" % (variable, minimum))]
    if number < minimum:
        return [_problem(variable, "%s is %s; it cannot be below %s (%s)" % (variable, value, minimum, what),
                         "set %s to %s (the default) or a positive number" % (variable, minimum))]
    return []


def bool_problems(variable, value):
    if is_boolean(value):
        return []
    return [_problem(variable, "%s is %s; it must be true or false" % (variable, _shown(value)),
                     "set %s to true or false (yes/no and on/off also work)" % variable)]


def segment_problems(variable, value):
    """Org and system names are results path segments; refuse those the verifier would never look into."""
    text = value if isinstance(value, str) else None
    if not text or not SEGMENT_RE.match(text):
        return [_problem(variable, "%s is %s; use only letters, digits, '.', '_' and '-' (it is a results path "
                                   "segment)." % (variable, _shown(value)),
                         "set %s to a name like example-org" % variable)]
    if text.startswith("."):
        return [_problem(variable, "%s is '%s'; a results path segment may not start with '.' (the verifier "
                                   "skips hidden directories, so these runs would never be judged)" % (variable, text),
                         "choose a name that starts with a letter or digit")]
    if text in _loader._SKIP_DIRS:
        return [_problem(variable, "%s is '%s'; the verifier skips directories of that name (%s), so these runs "
                                   "would never be judged" % (variable, text, ", ".join(sorted(_loader._SKIP_DIRS))),
                         "choose another name")]
    return []


def path_problems(variable, value):
    if not isinstance(value, str) or not value.strip():
        return [_problem(variable, "%s is %s; it must be a directory path" % (variable, _shown(value)),
                         "set %s to an absolute directory path" % variable)]
    if not posixpath.isabs(value):
        return [_problem(variable, "%s is '%s'; give an absolute path (the same on every client)." % (variable, value),
                         "set %s to an absolute path, e.g. /var/tmp/mlperf-storage/%s" % (
                             variable, variable.rsplit("_", 2)[-2]))]
    return []


def _inside(inner, outer):
    inner, outer = posixpath.normpath(inner), posixpath.normpath(outer)
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def nesting_problems(paths):
    """Equal or nested directory pairs; ``paths`` maps variable -> absolute path (others are skipped)."""
    out = []
    for first, second, why in _PAIRS:
        a, b = paths.get(first), paths.get(second)
        if not (isinstance(a, str) and isinstance(b, str) and posixpath.isabs(a) and posixpath.isabs(b)):
            continue
        if first == "mlperf_controller_results_dir" and posixpath.normpath(a) == posixpath.normpath(
                paths.get("mlperf_results_dir") or ""):
            continue  # the default: the same pair is reported once, as mlperf_results_dir
        if posixpath.normpath(a) == posixpath.normpath(b):
            relation = "%s and %s are both %s" % (first, second, posixpath.normpath(a))
        elif _inside(a, b):
            relation = "%s (%s) is inside %s (%s)" % (first, a, second, b)
        elif _inside(b, a):
            relation = "%s (%s) is inside %s (%s)" % (second, b, first, a)
        else:
            continue
        out.append(_problem("%s/%s" % (first, second), "%s; %s" % (relation, why),
                            "give %s and %s separate directories, neither inside the other" % (first, second)))
    return out


def _has_interpolation(value):
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(_has_interpolation(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_interpolation(v) for v in value)
    return False


def params_problems(params):
    """mlperf_params: a mapping of dotted keys; no value the engine's config system would misread or divide by."""
    if params is None:
        return []
    if not isinstance(params, dict):
        return [_problem("mlperf_params", "mlperf_params is a %s; it must be a mapping of dotted workload keys to "
                                          "values" % type(params).__name__,
                         "write it as a mapping, e.g. mlperf_params: {reader.read_threads: 8}")]
    out = []
    for key, value in params.items():
        name = "mlperf_params['%s']" % (key,)
        try:
            _workloads.split_key(key if isinstance(key, str) else "")
        except _workloads.WorkloadError:
            out.append(_problem(name, "%s is not a dotted workload key: expected segments separated by single dots"
                                      % _shown(key), "write the key like dataset.num_files_train"))
            continue
        if _has_interpolation(value):
            out.append(_problem(name, "%s is %s, which contains '${': the engine's configuration system (hydra) "
                                      "would read it as an interpolation, not as text" % (name, _shown(value)),
                                "write the value without '${', or remove %s from mlperf_params" % key))
            continue
        flat = _workloads.flatten({key: value}) if isinstance(value, dict) else {key: value}
        for dotted, item in flat.items():
            if dotted not in DLIO_INT_MINIMUMS:
                continue
            minimum, what = DLIO_INT_MINIMUMS[dotted]
            typed = _workloads.typed_value(item)
            number = as_int(typed)
            if number is None or number < minimum:
                out.append(_problem("mlperf_params['%s']" % dotted,
                                    "mlperf_params['%s'] is %s; DLIO needs a whole number of at least %d (%s)"
                                    % (dotted, _shown(item), minimum, what),
                                    "set %s to %d or more, or remove it from mlperf_params (the workload's value "
                                    "is then used)" % (dotted, minimum)))
    return out


def mpi_switch(value):
    """An MPI switch (mlperf_mpi_oversubscribe, mlperf_mpi_allow_run_as_root) as None (auto: the plan decides),
    True or False; ValueError for anything else."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("auto", "")):
        return None
    if is_boolean(value):
        if isinstance(value, str):
            return value.strip().lower() in TRUE_WORDS
        return bool(value)
    raise ValueError(value)


def mpi_settings_problems(settings):
    """The MPI launch settings present in ``settings`` (variable -> value): the launcher program, the switches
    and the arguments added to every benchmark's MPI command line."""
    out = []
    if settings.get("mlperf_mpi_launcher") is not None and settings["mlperf_mpi_launcher"] not in MPI_LAUNCHERS:
        out.append(_problem("mlperf_mpi_launcher", "mlperf_mpi_launcher is %s; allowed values are %s (both come with "
                                                   "the MPI the mpi role provides)"
                            % (_shown(settings["mlperf_mpi_launcher"]), ", ".join(MPI_LAUNCHERS)),
                            "set mlperf_mpi_launcher to mpirun (the default) or mpiexec"))
    for name, what in MPI_SWITCHES.items():
        if name not in settings:
            continue
        try:
            mpi_switch(settings[name])
        except ValueError:
            out.append(_problem(name, "%s is %s; it must be auto, true or false (%s)"
                                % (name, _shown(settings[name]), what),
                                "set %s to auto (the default), true or false" % name))
    if settings.get(MPI_EXTRA_ARGS) is not None:
        value = settings[MPI_EXTRA_ARGS]
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            out.append(_problem(MPI_EXTRA_ARGS, "%s is %s; it must be a list of separate arguments (each word of "
                                                "the MPI command line its own item)" % (MPI_EXTRA_ARGS, _shown(value)),
                                "write it as a list, e.g. %s: ['--mca', 'btl', 'tcp,self']" % MPI_EXTRA_ARGS))
        else:
            for position, item in enumerate(value):
                if not isinstance(item, (str, int, float)) or isinstance(item, bool) or str(item) == "":
                    out.append(_problem("%s[%d]" % (MPI_EXTRA_ARGS, position),
                                        "%s[%d] is %s; every argument must be a non-empty string"
                                        % (MPI_EXTRA_ARGS, position, _shown(item)),
                                        "write each argument as text, e.g. '--bind-to' then 'none'"))
    return out


def mpi_host_problems(clients):
    """``clients``: [{host, mpi_host}]: two clients reached as one MPI host would run both ranks' share there."""
    seen, out = {}, []
    for entry in clients:
        name = entry.get("mpi_host") or entry.get("host")
        if name in seen:
            out.append(_problem("mlperf_mpi_host", "%s and %s both reach MPI as '%s' (mlperf_mpi_host, or the "
                                                   "inventory name when it is unset): MPI would start both clients' "
                                                   "ranks on one machine" % (seen[name], entry.get("host"), name),
                                "give each client its own mlperf_mpi_host (its address or a name that resolves "
                                "to it)"))
        else:
            seen[name] = entry.get("host")
    return out


def rank_problems(clients, per_host, variable="mlperf_accelerators_per_host", own=None):
    """Per client with a known core count: more ranks than it can run (say which host and its cores). ``own``: the
    client record key of the client's own count (a host variable), which wins over ``per_host``."""
    out = []
    for entry in clients:
        value = entry.get(own) if own and entry.get(own) is not None else per_host
        number = as_int(value)
        if number is None or number < 1:
            continue  # the type/range problem is reported by the caller
        cores = as_int(entry.get("cores"))
        if cores and number > MAX_RANKS_PER_CORE * cores:
            out.append(_problem(variable, "%s has %d core(s); %s %d puts %d ranks on it, more than %d per core, so "
                                          "the ranks cannot keep the simulated accelerators busy"
                                % (entry.get("host"), cores, variable, number, number, MAX_RANKS_PER_CORE),
                                "set %s to at most %d, or use clients with more cores"
                                % (variable, MAX_RANKS_PER_CORE * cores), host=entry.get("host")))
    return out


# ------------------------------------------------------------------------------------------ the config role

def host_problems(settings):
    """Problems of one client's settings (a dict of variable -> value; absent variables are not checked)."""
    out = []

    def have(name):
        return name in settings and settings[name] is not None

    if have("mlperf_edition") and str(settings["mlperf_edition"]) not in _workloads.editions():
        out.append(_problem("mlperf_edition", "mlperf_edition is %s; known editions are %s"
                            % (_shown(settings["mlperf_edition"]), ", ".join(_workloads.editions())),
                            "set mlperf_edition to one of them (quoted, e.g. \"3.0\")"))
    if have("mlperf_division") and settings["mlperf_division"] not in DIVISIONS:
        out.append(_problem("mlperf_division", "mlperf_division is %s; allowed values are %s"
                            % (_shown(settings["mlperf_division"]), ", ".join(DIVISIONS)),
                            "set mlperf_division to one of them"))
    for name in SEGMENT_SETTINGS:
        if name in settings:
            out.extend(segment_problems(name, settings[name]))
    for name, (minimum, what) in INT_SETTINGS.items():
        if have(name):
            out.extend(int_problems(name, settings[name], minimum, what))
    for name, (minimum, what) in FLOAT_SETTINGS.items():
        if have(name):
            out.extend(float_problems(name, settings[name], minimum, what))
    for name in BOOL_SETTINGS:
        if name in settings:
            out.extend(bool_problems(name, settings[name]))
    heartbeat = as_int(settings.get(HEARTBEAT_SETTING, HEARTBEAT_DEFAULT))
    if heartbeat is None or heartbeat < 1:
        out.extend(int_problems(HEARTBEAT_SETTING, settings.get(HEARTBEAT_SETTING), 1,
                                "seconds without a progress poll before the engine stops itself"))
        heartbeat = None
    for name in PROGRESS_SETTINGS:
        if not have(name):
            continue
        found = int_problems(name, settings[name], 1, "seconds between progress lines")
        out.extend(found)
        if not found and heartbeat and as_int(settings[name]) >= heartbeat:
            out.append(_problem(name, "%s is %s; it must stay below %s (%d): the engine stops itself when the "
                                      "playbook has not polled it for that long" % (
                                          name, settings[name], HEARTBEAT_SETTING, heartbeat),
                                "set %s well below %d (the default is 15)" % (name, heartbeat)))
    for name in PATH_SETTINGS:
        if name in settings:
            out.extend(path_problems(name, settings[name]))
    out.extend(nesting_problems({name: settings.get(name) for name in PATH_SETTINGS}))
    if "mlperf_params" in settings:
        out.extend(params_problems(settings["mlperf_params"]))
    out.extend(mpi_settings_problems(settings))
    return out


def settings_problems(per_host, clients=None, launcher=None, clients_group=None):
    """Every problem of every client's settings, once.

    ``per_host``: [{"host": name, "mlperf_mpi_host": ..., <variable>: value, ...}] (one entry per client of the
    play). A problem every client shares (a group or extra variable) is reported once without a host; one that
    only some clients have names them. ``clients``: the hosts of the clients group, named ``clients_group``
    (mlperf_clients_group, default 'clients'); ``launcher``: the chosen launcher. A host of the play that is not
    in the clients group means the play was given another group than the inventory names.
    """
    group = clients_group or "clients"
    per_host = [dict(entry) for entry in (per_host or []) if isinstance(entry, dict)]
    hosts = [entry.get("host") for entry in per_host]
    grouped = {}
    order = []
    for entry in per_host:
        for problem in host_problems(entry):
            key = (problem["variable"], problem["message"], problem["fix"])
            if key not in grouped:
                grouped[key] = []
                order.append(key)
            grouped[key].append(entry.get("host"))
    out = []
    for key in order:
        where = grouped[key]
        host = None if len(where) == len(hosts) else ", ".join(str(h) for h in where)
        out.append(_problem(key[0], key[1], key[2], host=host))
    outside = [h for h in hosts if clients is not None and h not in clients]
    if outside:
        out.append(_problem("mlperf_clients_group", "%s %s not in group '%s', the group mlperf_clients_group names, "
                                                    "but the play runs on %s: a play chooses its hosts before "
                                                    "inventory variables are read"
                            % (", ".join(str(h) for h in outside), "is" if len(outside) == 1 else "are", group,
                               "it" if len(outside) == 1 else "them"),
                            "pass the group as an extra var (-e mlperf_clients_group=%s), so that the plays and the "
                            "checks use the same group" % group))
    if clients is not None and launcher is not None and launcher not in clients:
        out.append(_problem("mlperf_launcher", "mlperf_launcher is '%s', which is not in group '%s' (%s). "
                                               "Name one of those hosts, or leave it empty for the first."
                            % (launcher, group, ", ".join(str(c) for c in clients)),
                            "set mlperf_launcher to one of %s, or to ''" % ", ".join(str(c) for c in clients)))
    out.extend(mpi_host_problems([{"host": e.get("host"), "mpi_host": e.get("mlperf_mpi_host")} for e in per_host]))
    for number, problem in enumerate(out, 1):
        problem["text"] = "%d. %s" % (number, problem_text(problem))
    return out


def problem_text(problem):
    where = "%s: " % problem["host"] if problem.get("host") else ""
    return "[%s] %s%s\n   fix: %s" % (problem["variable"], where, problem["message"], problem["fix"])


def report(problems):
    """The whole refusal: a count, then each problem's numbered text (from settings_problems)."""
    return "\n".join(["The settings have %d problem(s); nothing was started:" % len(problems)]
                     + [problem["text"] for problem in problems])


# ---------------------------------------------------------------------------------------------------- plans

def _plan_error(problem):
    message = problem["message"]
    if problem.get("host") and problem["host"] not in message:
        message = "%s: %s" % (problem["host"], message)
    return {"variable": problem["variable"], "message": message, "fix": problem["fix"]}


def request_errors(req):
    """A plan request's inputs that no plan step may see: the same checks as the config role (for callers that
    skip it) plus the ranks each client can run, which needs the facts preflight gathered."""
    out = []
    if "params" in req:
        out.extend(params_problems(req.get("params")))
    for name in ("org", "system"):
        if name in req:
            out.extend(segment_problems("mlperf_" + name, req[name]))
    paths = req.get("paths") if isinstance(req.get("paths"), dict) else {}
    named = {"mlperf_" + key: paths[key] for key in ("data_dir", "results_dir", "work_dir") if paths.get(key)}
    for name, value in named.items():
        out.extend(path_problems(name, value))
    out.extend(nesting_problems(named))
    clients = req.get("clients") if isinstance(req.get("clients"), list) else []
    clients = [c for c in clients if isinstance(c, dict)]
    out.extend(mpi_host_problems(clients))
    mpi = req.get("mpi") if isinstance(req.get("mpi"), dict) else {}
    out.extend(mpi_settings_problems(mpi.get("settings") or {}))
    if "processes_per_host" in req:
        out.extend(rank_problems(clients, req["processes_per_host"], "kvcache_processes_per_host"))
    elif "accelerators_per_host" in req:
        out.extend(rank_problems(clients, req["accelerators_per_host"], own="accelerators_per_host"))
    return [_plan_error(p) for p in out]


def suspect(req, exc):
    """The input an unexpected exception most likely came from: a mlperf_params key or value it quotes."""
    text = str(exc)
    params = req.get("params") if isinstance(req, dict) else None
    if isinstance(params, dict):
        for key, value in params.items():
            if str(key) in text or (value not in (None, "") and str(value) in text):
                return "mlperf_params['%s']" % (key,)
    return "mlperf_params"
