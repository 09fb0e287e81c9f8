# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""KV-cache per-run checks (spec 5.2 - 5.4; Table KVCache-1 and the CLOSED sequence locks)."""
from __future__ import annotations

import re
import shlex

from . import run_check
from ..util import to_bool, to_int, to_number

K = ("kv_cache",)


def _setting(run, key):
    meta = run.metadata if isinstance(run.metadata, dict) else {}
    if key in run.args:
        return run.args.get(key)
    return meta.get(key)


@run_check("6.1-MODEL", "KV-cache model is known and allowed", benchmarks=K)
def check_kv_model(ctx):
    run = ctx.run
    sec = ctx.section("kv_cache")
    models = ctx.edition.kv_cache_models()
    if run.model not in models:
        return ctx.invalid("KV-cache model %r is not one of %s" % (run.model, ", ".join(models)),
                           parameter="model", expected=models, actual=run.model)
    closed_models = sec.get("closed_models") or []
    if ctx.closed_division and run.model not in closed_models:
        return ctx.open("KV-cache workload %s is not a sanctioned CLOSED workload (CLOSED: %s)"
                        % (run.model, ", ".join(closed_models)), parameter="model", expected=closed_models,
                        actual=run.model)
    return ctx.ok("model %s" % run.model, parameter="model", actual=run.model)


@run_check("6.3.2.1", "CLOSED sequence locks (seed, trials, inter-option delay, no config)", benchmarks=K)
def check_kv_closed_sequence(ctx):
    if not ctx.closed_division:
        return None
    run = ctx.run
    sec = ctx.section("kv_cache")
    issues = []
    for key, expected in (sec.get("closed_sequence") or {}).items():
        actual = _setting(run, key)
        if to_number(actual) != expected:
            issues.append(ctx.invalid("CLOSED locks %s=%s but the run used %r; CLOSED runs may not change it"
                                      % (key, expected, actual), parameter=key, expected=expected, actual=actual))
    if _setting(run, "config"):
        issues.append(ctx.invalid("a custom --config is forbidden in CLOSED", parameter="config",
                                  expected=None, actual=_setting(run, "config")))
    if to_bool(_setting(run, "enable_autoscaling")):
        # A parser default that CLOSED does not forward to the benchmark (quirk 12.16).
        issues.append(ctx.ok("enable_autoscaling recorded true, but CLOSED does not forward it to the benchmark",
                             parameter="enable_autoscaling", actual=True))
    if not any(i.validation == "INVALID" for i in issues):
        issues.append(ctx.ok("CLOSED sequence locks respected", parameter="seed"))
    return issues


@run_check("6.3.4", "aggregated KV-cache summary is complete", benchmarks=K, planned=False)
def check_kv_summary(ctx):
    run = ctx.run
    summary = run.summary
    if not isinstance(summary, dict):
        if any(i.validation == "INVALID" and i.rule_id == "LOAD-04" for i in run.load_issues):
            return None
        return ctx.invalid("summary.json is missing: the run-level aggregation never ran; re-run it for this leaf",
                           parameter="summary.json")
    issues = []
    options = summary.get("options") if isinstance(summary.get("options"), dict) else {}
    expected_opts = sorted(ctx.edition.kv_cache_options())
    trials = to_int(_setting(run, "trials"))
    if ctx.closed_division:
        missing = [o for o in expected_opts if o not in options]
        if missing:
            issues.append(ctx.invalid("options %s of the CLOSED sequence have no results" % ", ".join(missing),
                                      parameter="options", expected=expected_opts, actual=sorted(options)))
    if not options:
        issues.append(ctx.invalid("summary.json holds no option results", parameter="options"))
    ranks = to_int(summary.get("total_ranks"))
    for name in sorted(options):
        opt = options[name] if isinstance(options[name], dict) else {}
        if opt.get("partial_failure"):
            missing = opt.get("missing_files") or []
            issues.append(ctx.invalid("option %s lost %d of %s rank result files (partial_failure); its metrics "
                                      "cover only the surviving ranks. Re-run the option"
                                      % (name, len(missing), opt.get("rank_count") or ranks or "?"),
                                      parameter="options.%s.partial_failure" % name, expected=False, actual=True))
        if trials and to_int(opt.get("trial_count")) is not None and to_int(opt.get("trial_count")) != trials:
            issues.append(ctx.invalid("option %s has %s trials, the run asked for %d"
                                      % (name, opt.get("trial_count"), trials),
                                      parameter="options.%s.trial_count" % name, expected=trials,
                                      actual=opt.get("trial_count")))
        cpu_ranks = opt.get("cpu_tier_ranks") or []
        rank_count = to_int(opt.get("rank_count")) or ranks
        if cpu_ranks and rank_count and len(cpu_ranks) >= rank_count:
            issue = ("option %s was served entirely from the CPU tier (no storage I/O)" % name)
            issues.append(ctx.invalid(issue, parameter="options.%s.cpu_tier_ranks" % name) if ctx.closed_division
                          else ctx.open(issue, parameter="options.%s.cpu_tier_ranks" % name))
    if summary.get("partial_failure") and not any("partial_failure" in (i.parameter or "") for i in issues):
        issues.append(ctx.invalid("summary records partial_failure", parameter="partial_failure",
                                  expected=False, actual=True))
    failures = summary.get("trial_failures")
    if isinstance(failures, dict) and failures:
        issues.append(ctx.invalid("mpirun trials exited non-zero: %s" % ", ".join(sorted(map(str, failures))),
                                  parameter="trial_failures", actual=failures))
    if run.num_processes and ranks and run.num_processes != ranks:
        issues.append(ctx.invalid("summary reports %d ranks, the metadata %d processes" % (ranks, run.num_processes),
                                  parameter="num_processes", expected=run.num_processes, actual=ranks))
    if not issues:
        issues.append(ctx.ok("%d options complete" % len(options), parameter="options"))
    return issues


# --- per-option values (Rules 6.3.1.1, Table KVCache-1; 6.3.2.1; 6.6.1 / 6.6.2) ---------------------------------
# The wrapper flags that carry a Table KVCache-1 value, by table key.
_OPTION_FLAGS = {"--model": "model", "--num-users": "num_users", "--duration": "duration",
                 "--gpu-mem-gb": "gpu_mem_gb", "--cpu-mem-gb": "cpu_mem_gb",
                 "--max-concurrent-allocs": "max_concurrent_allocs", "--generation-mode": "generation_mode"}
_OPTION_DIR = re.compile(r"(?:^|/)option_(\d+)/trial_(\d+)/?$")


def _parse_wrapper_command(command):
    """{flag: value} of the wrapper part of one recorded mpirun command, or None if it is not a wrapper call."""
    if not isinstance(command, str) or "--rank-output-base" not in command:
        return None
    try:
        argv = shlex.split(command)
    except ValueError:
        argv = command.split()
    flags = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--") and token not in ("--bind-to", "--map-by", "--mca", "--npernode"):
            if "=" in token:
                key, value = token.split("=", 1)
                flags[key] = value
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                flags[token] = argv[i + 1]
                i += 1
            else:
                flags[token] = True
        i += 1
    return flags


def option_invocations(run):
    """{option: {trial: flags}} from the run's recorded per-option commands; None when none are recorded.

    Our collection records them as ``kvcache_invocations`` ({option, trial, command}); the upstream tool as
    ``command_output_files`` (one mpirun command per option and trial, ``--rank-output-base .../option_O/trial_T``).
    """
    meta = run.metadata if isinstance(run.metadata, dict) else {}
    found = {}
    entries = []
    for entry in meta.get("kvcache_invocations") or []:
        if isinstance(entry, dict):
            entries.append((entry.get("option"), entry.get("trial"), entry.get("command")))
    if not entries:
        for entry in meta.get("command_output_files") or []:
            if isinstance(entry, dict):
                entries.append((None, None, entry.get("command")))
    for option, trial, command in entries:
        flags = _parse_wrapper_command(command)
        if flags is None:
            continue
        match = _OPTION_DIR.search(str(flags.get("--rank-output-base") or "").rstrip("/") + "/")
        if option is None and match:
            option, trial = match.group(1), match.group(2)
        if option is None:
            continue
        trials = found.setdefault(str(option), {})
        number = to_int(trial)
        trials[len(trials) if number is None else number] = flags
    return found or None


def _refused_value(entry, value):
    """Why the kv-cache program would not accept ``value`` for a feature (None when it would)."""
    kind = entry.get("kind")
    if kind == "switch":
        return None if value is True else "a switch takes no value"
    if kind == "count":
        return None if value is not True and (to_int(value) or 0) >= 1 else "a whole number of at least 1"
    choices = [str(c) for c in entry.get("choices") or ()]
    return None if str(value) in choices else "one of " + ", ".join(choices)


def _feature_findings(ctx, name, trial, flags, features, forbidden, seen):
    """Findings for the program features one option/trial command passes (edition ``open_features``): CLOSED
    passes none (6.6.1: OPEN; one CLOSED forbids, autoscaling, 6.3.2.2: INVALID); a value the program refuses is
    INVALID in either division; OPEN may use the others (6.6.2)."""
    issues = []
    for key, entry in features.items():
        flag = entry.get("flag")
        if flag not in flags or (name, key) in seen:
            continue
        seen.add((name, key))
        value = flags[flag]
        param = "options.%s.%s" % (name, key)
        where = "option %s trial %s ran %s" % (name, trial, flag if value is True else "%s %s" % (flag, value))
        refused = _refused_value(entry, value)
        if refused:
            issues.append(ctx.invalid("%s, which the kv-cache program does not accept (%s)" % (where, refused),
                                      parameter=param, actual=value, rule_id="6.6.2"))
        elif ctx.closed_division and key in forbidden:
            issues.append(ctx.invalid(where + "; CLOSED forbids it", parameter=param, expected=None, actual=value,
                                      rule_id="6.3.2.2"))
        elif ctx.closed_division:
            issues.append(ctx.open(where + "; CLOSED passes no program feature, only OPEN may use it",
                                   parameter=param, expected=None, actual=value, rule_id="6.6.1"))
        else:
            issues.append(ctx.ok(where + " (OPEN allows it)", parameter=param, actual=value, rule_id="6.6.2"))
    return issues


def _same(expected, actual):
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return to_number(actual) == expected
    return str(actual) == str(expected)


@run_check("6.3.1.1", "each option ran the Table KVCache-1 values (per-option commands)", benchmarks=K)
def check_kv_option_values(ctx):
    run = ctx.run
    sec = ctx.section("kv_cache")
    table = ctx.edition.kv_cache_options()
    if not table:
        return None
    tunable = ctx.edition.kv_cache_open_overrides()
    features, forbidden = ctx.edition.kv_cache_open_features(), ctx.edition.kv_cache_closed_forbidden()
    recorded = option_invocations(run)
    if not recorded:
        return ctx.warn("the run records no per-option commands: the Table KVCache-1 values of each option "
                        "cannot be confirmed", parameter="options")
    issues, used = [], []  # used: the program features' findings (rules 6.3.2.2, 6.6.1, 6.6.2)
    closed = ctx.closed_division
    lock_seed = (sec.get("closed_sequence") or {}).get("seed")
    lock_trials = (sec.get("closed_sequence") or {}).get("trials")
    trials = to_int(_setting(run, "trials"))
    # the seed the run recorded (a recorded seed other than the lock is 6.3.2.1's run-level finding)
    ref_seed = to_number(_setting(run, "seed"))
    ref_seed = lock_seed if ref_seed is None else int(ref_seed) if ref_seed == int(ref_seed) else ref_seed
    summary_options = run.summary.get("options") if isinstance(run.summary, dict) and isinstance(
        run.summary.get("options"), dict) else {}
    for name in sorted(set(table) | set(recorded)):
        commands = recorded.get(name) or {}
        values = table.get(name)
        if values is None:
            issues.append(ctx.invalid("option %s is not in Table KVCache-1 (options %s)"
                                      % (name, ", ".join(sorted(table))), parameter="options.%s" % name,
                                      expected=sorted(table), actual=name))
            continue
        if not commands:
            if name in summary_options or closed:
                issues.append(ctx.invalid("option %s has no recorded command: its values cannot be confirmed"
                                          % name, parameter="options.%s" % name))
            continue
        # against the trials the run asked for; a run-level value other than the lock is 6.3.2.1's own finding
        wanted = trials or (lock_trials if closed else None)
        if wanted and len(commands) != wanted:
            issues.append(ctx.invalid("option %s records %d trial command(s), %s required"
                                      % (name, len(commands), wanted), parameter="options.%s.trials" % name,
                                      expected=wanted, actual=len(commands), rule_id="6.3.2.1"))
        seen = set()
        for trial in sorted(commands):
            flags = commands[trial]
            for flag, key in _OPTION_FLAGS.items():
                expected = values.get(key)
                if expected is None or (name, key) in seen:
                    continue
                actual = flags.get(flag)
                if _same(expected, actual):
                    continue
                seen.add((name, key))
                where = "option %s (%s) trial %s ran %s=%s, Table KVCache-1 fixes %s" % (
                    name, values.get("name", ""), trial, flag[2:], actual if actual is not None else "(unset)",
                    expected)
                param = "options.%s.%s" % (name, key)
                if key not in tunable:
                    issues.append(ctx.invalid(where + "; it is not a tunable in either division",
                                              parameter=param, expected=expected, actual=actual))
                elif closed:
                    issues.append(ctx.open(where + "; only OPEN may change it", parameter=param,
                                           expected=expected, actual=actual))
                else:
                    issues.append(ctx.ok(where + " (OPEN allows it)", parameter=param, expected=expected,
                                         actual=actual))
            used.extend(_feature_findings(ctx, name, trial, flags, features, forbidden, seen))
            seed = flags.get("--seed-base")
            if closed and ref_seed is not None and not _same(ref_seed, seed) and (name, "seed") not in seen:
                seen.add((name, "seed"))
                issues.append(ctx.invalid("option %s trial %s ran --seed-base %s; CLOSED locks seed=%s"
                                          % (name, trial, seed if seed is not None else "(unset)", ref_seed),
                                          parameter="options.%s.seed" % name, expected=ref_seed, actual=seed,
                                          rule_id="6.3.2.1"))
    if not issues:
        issues.append(ctx.ok("options %s ran the Table KVCache-1 values" % ", ".join(sorted(recorded)),
                             parameter="options"))
    return issues + used
