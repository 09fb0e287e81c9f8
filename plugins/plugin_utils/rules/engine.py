# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules engine: load runs, run the checks, reduce to verdicts, aggregate results."""
from __future__ import annotations

import os

from .checks import Ctx, all_checks
from .edition import DEFAULT_EDITION, EditionError, detect_run_edition, load_edition, normalize_edition
from .issues import CLOSED, INFO, INVALID, WARNING, Issue, sort_for_display, verdict_of, worst
from .loader import ParseError, check_checksum_mode, iter_run_dirs, load_run, parse_yaml_text, run_from_metadata
from .metrics import aggregate, run_metrics


# ----------------------------------------------------------------------------------------------
# per-run verification
# ----------------------------------------------------------------------------------------------
def _relax(issue, edition):
    """Turn INVALID findings the edition's round reported as warnings into CLOSED warnings."""
    if issue.validation != INVALID or not edition.relaxed_rules:
        return issue
    token = issue.extra.get("token") if issue.extra else None
    for key in ([issue.rule_id, "%s/%s" % (issue.rule_id, token)] if token else [issue.rule_id]):
        if key in edition.relaxed_rules:
            issue.validation = CLOSED
            issue.severity = WARNING
            issue.message = "%s [warning under edition %s: %s]" % (issue.message, edition.name,
                                                                    edition.relaxed_rules[key])
            break
    return issue


def run_checks(specs, ctx, subject_issues=None):
    """Run every applicable check; an exception becomes an INVALID issue naming the check."""
    issues = list(subject_issues or [])
    outcomes = []
    for spec in specs:
        try:
            produced = spec.func(ctx)
        except Exception as exc:  # a broken check must never hide a verdict
            produced = Issue(INVALID, "Check %s failed with error: %s: %s" % (spec.name, type(exc).__name__, exc),
                             rule_id=spec.rule_id)
        if produced is None:
            produced = []
        elif isinstance(produced, Issue):
            produced = [produced]
        for issue in produced:
            issue.check = issue.check or spec.name
            issue.rule_id = issue.rule_id or spec.rule_id
            _relax(issue, ctx.edition)
        outcomes.append({"check": spec.name, "rule_id": spec.rule_id, "title": spec.title,
                         "verdict": verdict_of(produced), "issues": len(produced)})
        issues.extend(produced)
    return issues, outcomes


def _resolve_edition(explicit, run, submission_editions):
    """(Edition, issues, (basis, reason)). Strongest first: the caller's verify_edition; the edition the run recorded;
    the tool version it recorded; <division>/<org>/submission.yaml; the format of its metadata; the default.

    Each run is judged under its own edition (a tree may mix editions; a result whose runs differ is EDN-03)."""
    issues = []
    declared = submission_editions.get((run.division, run.org))
    if isinstance(declared, SubmissionYamlError):
        issues.append(Issue(INVALID, "%s; the submission's edition cannot be read (fix the file)" % declared,
                            parameter="submission.yaml", rule_id="EDN-01", check="resolve_edition"))
        declared = None
    found = detect_run_edition(run.metadata, run.metadata_file, run.provenance)
    by_kind = {}
    for kind, name, reason in found:
        by_kind.setdefault(kind, (name, reason))
    # only an edition that was given is a candidate: its reason must not explain a default
    candidates = [("requested", explicit, "given by verify_edition (the caller's edition option)")] if explicit else []
    for kind in ("recorded", "tool_version"):
        if kind in by_kind:
            candidates.append((kind,) + by_kind[kind])
    if declared:
        candidates.append(("submission.yaml", declared, "declared in %s/%s/submission.yaml" % (run.division, run.org)))
    if "format" in by_kind:
        candidates.append(("format",) + by_kind["format"])
    unrecognised = None
    for source, name, reason in candidates:
        if not name:
            unrecognised = unrecognised or reason
            continue
        try:
            ed = load_edition(name)
        except EditionError as exc:
            issues.append(Issue(INVALID, "%s (from %s); judged under edition %s instead" % (exc, source,
                                                                                           DEFAULT_EDITION),
                                parameter="edition", actual=name, rule_id="EDN-01", check="resolve_edition"))
            return load_edition(DEFAULT_EDITION), issues, ("default", "default %s (the edition %s %s is unknown)" % (
                DEFAULT_EDITION, name, reason))
        fmt = by_kind.get("format")
        if source != "format" and fmt and fmt[0] and fmt[0] != ed.name:
            issues.append(Issue(CLOSED, "judged under edition %s (%s), but the run's metadata has the format of "
                                "edition %s" % (ed.name, reason, fmt[0]), severity=WARNING, parameter="edition",
                                expected=ed.name, actual=fmt[0], rule_id="EDN-04", check="resolve_edition"))
        return ed, issues, (source, reason)
    why = unrecognised or ("no edition recorded and no metadata format recognised" if run.metadata is not None
                           else "no metadata to recognise an edition from")
    return load_edition(DEFAULT_EDITION), issues, ("default", "default %s (%s)" % (DEFAULT_EDITION, why))


def _resolve_division(run, edition, requested=None):
    if requested:
        return requested, []
    if run.division:
        return run.division, []
    mode = run.args.get("mode") if isinstance(run.args, dict) else None
    if mode:
        return str(mode), []
    closed_flag = run.args.get("closed") if isinstance(run.args, dict) else None
    if closed_flag is not None:  # v2.0 metadata
        return ("closed" if closed_flag else "open"), []
    default = edition.data.get("default_division", "closed")
    return default, [Issue(CLOSED, "division not recorded in the path or metadata; judged as %s" % default,
                           severity=INFO, parameter="division", actual=default, rule_id="DIV-01",
                           check="resolve_division")]


def verify_loaded_run(run, edition=None, division=None, package_checks=False, submission_editions=None):
    """Verify one loaded Run in place (sets run.verdict, run.result_issues ...) and return it."""
    run_specs, _ = all_checks()
    ed, ed_issues, ed_reason = _resolve_edition(edition, run, submission_editions or {})
    div, div_issues = _resolve_division(run, ed, division)
    run.edition_name = ed.name
    run.edition_basis, run.edition_source = ed_reason
    run.effective_division = div
    ctx = Ctx(ed, div, planned=run.planned, run=run)
    pre = list(run.load_issues) + ed_issues + div_issues
    for issue in pre:
        _relax(issue, ed)
    if run.benchmark is None:
        issues, outcomes = pre, []
    else:
        specs = [s for s in run_specs if s.applies(run, run.planned, package_checks)]
        issues, outcomes = run_checks(specs, ctx, pre)
    run.result_issues = sort_for_display(issues)
    run.check_outcomes = outcomes
    run.verdict = verdict_of(issues)
    run.metrics = run_metrics(run) if not run.planned else {}
    return run


def run_to_dict(run) -> dict:
    meta = run.metadata if isinstance(run.metadata, dict) else {}
    recorded = meta.get("verification")
    return {
        "path": run.rel_path,
        "benchmark": run.benchmark,
        "model": run.model,
        "command": run.command,
        "run_id": run.run_id,
        "division": getattr(run, "effective_division", run.division),
        "org": run.org,
        "system": run.system,
        "accelerator": run.accelerator,
        "num_processes": run.num_processes,
        "edition": getattr(run, "edition_name", None),
        "edition_source": getattr(run, "edition_source", None),
        "source": run.source,
        "verdict": run.verdict,
        "recorded_verification": recorded.upper() if isinstance(recorded, str) else None,
        "issues": [i.to_dict() for i in run.result_issues],
        "checks": run.check_outcomes,
        "metrics": run.metrics,
    }


# ----------------------------------------------------------------------------------------------
# submissions (groups of runs)
# ----------------------------------------------------------------------------------------------
class Group:
    def __init__(self, key, runs):
        self.division, self.org, self.system, self.benchmark, self.model = key
        self.runs = runs
        self.verdict = CLOSED
        self.issues = []
        self.checks = []
        self.metrics = {}

    @property
    def measured(self):
        return [r for r in self.runs if r.command in ("run", "run_benchmark")]

    @property
    def accelerator(self):
        for r in self.measured:
            if r.accelerator:
                return r.accelerator
        return None

    @property
    def primary_run(self):
        """The run a single-run result publishes: the latest one without INVALID findings."""
        runs = sorted(self.measured, key=lambda r: r.run_datetime or "")
        valid = [r for r in runs if r.verdict != INVALID]
        pick = valid or runs
        return pick[-1] if pick else None

    def to_dict(self):
        return {
            "division": self.division,
            "org": self.org,
            "system": self.system,
            "benchmark": self.benchmark,
            "model": self.model,
            "accelerator": self.accelerator,
            "edition": getattr(self, "edition_name", None),
            "verdict": self.verdict,
            "runs": [r.rel_path for r in sorted(self.runs, key=lambda r: (r.command or "", r.run_datetime or ""))],
            "issues": [i.to_dict() for i in self.issues],
            "checks": self.checks,
            "metrics": self.metrics,
        }


def _group_runs(runs):
    groups = {}
    for run in runs:
        if run.benchmark is None:
            continue
        key = (getattr(run, "effective_division", run.division), run.org, run.system, run.benchmark, run.model)
        groups.setdefault(key, []).append(run)
    return [Group(key, members) for key, members in sorted(groups.items(), key=lambda kv: tuple(
        str(x) for x in kv[0]))]


def verify_group(group, package_checks=False):
    _, group_specs = all_checks()
    names = sorted(set(r.edition_name for r in group.runs))
    edition = load_edition(names[0] if len(names) == 1 else DEFAULT_EDITION)
    group.edition_name = edition.name
    ctx = Ctx(edition, group.division, group=group)
    specs = [s for s in group_specs if (s.benchmarks is None or group.benchmark in s.benchmarks)
             and (not s.package or package_checks)]
    pre = []
    if len(names) > 1:
        pre.append(Issue(INVALID, "the runs of one result were judged under different editions (%s)"
                         % ", ".join(names), parameter="edition", actual=names, rule_id="EDN-03",
                         check="verify_group"))
    issues, outcomes = run_checks(specs, ctx, pre)
    group.issues = sort_for_display(issues)
    group.checks = outcomes
    group.verdict = worst([verdict_of(issues)] + [r.verdict for r in group.runs])
    group.metrics = aggregate(group, edition)
    return group


# ----------------------------------------------------------------------------------------------
# reports and the public entry points
# ----------------------------------------------------------------------------------------------
_BASIS_TEXT = {
    "requested": "given by verify_edition",
    "recorded": "recorded by the run",
    "tool_version": "detected from the tool version",
    "submission.yaml": "declared in submission.yaml",
    "format": "detected from the metadata format",
    "default": "default",
}


class Report:
    def __init__(self, results_dir, runs, groups, edition):
        self.results_dir = results_dir
        self.runs = runs
        self.groups = groups
        self.edition = edition
        self.verdict = worst([r.verdict for r in runs] + [g.verdict for g in groups])
        self.empty_reason = None
        self.explicit_edition = None

    @property
    def edition_source(self):
        """Which edition was applied to how many runs, and on what basis (detected, recorded, given ...)."""
        if not self.runs:
            return ("given by verify_edition" if self.explicit_edition else "no runs")
        per = {}
        for run in self.runs:
            basis = _BASIS_TEXT.get(getattr(run, "edition_basis", None), "default")
            per.setdefault(run.edition_name, {}).setdefault(basis, 0)
            per[run.edition_name][basis] += 1
        parts = []
        for name in sorted(per):
            total = sum(per[name].values())
            how = ", ".join("%s: %d" % (basis, n) for basis, n in sorted(per[name].items()))
            parts.append("edition %s for %d run%s (%s)" % (name, total, "" if total == 1 else "s", how))
        return "; ".join(parts)

    def to_dict(self) -> dict:
        counts = {}
        for r in self.runs:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
        out = {
            "results_dir": self.results_dir,
            "verdict": self.verdict,
            "edition": self.edition,
            "edition_source": self.edition_source,
            "counts": counts,
            "runs": [run_to_dict(r) for r in self.runs],
            "submissions": [g.to_dict() for g in self.groups],
        }
        if self.empty_reason:
            out["error"] = self.empty_reason
        return out

    @property
    def run_ids(self):
        return [r.run_id for r in self.runs]


class SubmissionYamlError(str):
    """A submission.yaml that could not be read (kept in place of the edition name)."""


def _submission_editions(root):
    """Edition declared per (division, org) in <division>/<org>/submission.yaml, if any."""
    found = {}
    for division in ("closed", "open", "whatif"):
        base = os.path.join(root, division)
        if not os.path.isdir(base):
            continue
        for org in sorted(os.listdir(base)):
            path = os.path.join(base, org, "submission.yaml")
            if not os.path.isfile(path):
                continue
            rel = os.path.relpath(path, root)
            try:
                with open(path, encoding="utf-8") as fh:
                    data = parse_yaml_text(fh.read(), rel)
            except (OSError, ParseError) as exc:
                found[(division, org)] = SubmissionYamlError(str(exc))
                continue
            if isinstance(data, dict):
                name = data.get("edition") or data.get("rules_edition") or data.get("mlperf_version")
                if name:
                    found[(division, org)] = normalize_edition(name)
    return found


def verify_tree(path, edition=None, package_checks=False, checksums="sha256") -> Report:
    """Verify every run directory under ``path`` and every result (submission) they form.

    checksums: "sha256" hashes every file a run's CHECKSUMS.sha256 lists; "presence" checks only that the
    listed files are there and that none was added (loader.CHECKSUM_MODES)."""
    check_checksum_mode(checksums)
    root = os.path.abspath(path)
    if not os.path.isdir(root):
        run = load_run(root, results_root=os.path.dirname(root), checksums=checksums)
        verify_loaded_run(run, edition=edition)
        return Report(root, [run], [], run.edition_name)
    sub_ed = _submission_editions(root)
    runs = []
    for run_dir in iter_run_dirs(root):
        run = load_run(run_dir, results_root=root, checksums=checksums)
        verify_loaded_run(run, edition=edition, package_checks=package_checks, submission_editions=sub_ed)
        runs.append(run)
    runs.sort(key=lambda r: r.rel_path or "")
    # A single run directory is not a result: submission checks apply to trees only.
    single = len(runs) == 1 and runs[0].path == root
    groups = [] if single else [verify_group(g, package_checks=package_checks) for g in _group_runs(runs)]
    if not runs:
        empty = Report(root, [], [], normalize_edition(edition))
        empty.verdict = INVALID
        empty.explicit_edition = edition
        empty.empty_reason = "no run directories found under %s" % root
        return empty
    names = sorted(set(r.edition_name for r in runs))
    return Report(root, runs, groups, names[0] if len(names) == 1 else names)


def verify_run_dir(path, edition=None, package_checks=False, checksums="sha256") -> dict:
    """Verify one run directory (per-run checks only) and return its run dict."""
    run = load_run(path, checksums=checksums)
    verify_loaded_run(run, edition=edition, package_checks=package_checks)
    return run_to_dict(run)


def classify_planned_run(metadata, edition=DEFAULT_EDITION, division="closed") -> dict:
    """Classify a run before it happens from its planned metadata (spec 8.3 shape)."""
    run = run_from_metadata(metadata, division=division)
    verify_loaded_run(run, edition=edition, division=division)
    return run_to_dict(run)
