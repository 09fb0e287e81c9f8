"""KV-cache per-run checks (spec 5.2 - 5.4; Table KVCache-1 and the CLOSED sequence locks)."""
from __future__ import annotations

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
    models = sec.get("models") or []
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
    expected_opts = sorted((ctx.section("kv_cache").get("options") or {}).keys())
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
