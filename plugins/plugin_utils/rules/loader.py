# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load run directories: complete metadata first, else the engine's own files (spec 8.4).

Loading never raises for bad input: every unreadable or inconsistent file becomes an Issue in
``Run.load_issues`` so the verdict can name it.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import fnmatch
import json
import os
import re
import stat

import yaml

from ansible_collections.mlperf.storage.plugins.module_utils._results import CHECKSUM_FILE, sealed_files, sha256_file

from .issues import CLOSED, INFO, INVALID, WARNING, Issue
from .layout import BENCHMARKS, DIVISIONS, normalize_benchmark
from .layout import parse as parse_layout
from .util import RUN_DIR_RE, get_path, parse_run_datetime, parse_time, to_int

METADATA_GLOB = "*_metadata.json"
# Directories that never hold run leaves (tool state, code images, system descriptions).
_SKIP_DIRS = {".mlps", "code-images", "systems", "collector-staging", ".fs_probe", "dlio_config", "__pycache__"}
_REQUIRED_METADATA_KEYS = ("benchmark_type", "run_datetime", "num_processes", "parameters")


@dataclasses.dataclass(eq=False)  # runs are told apart by identity (kept in sets and dicts)
class Run:
    """Everything the checks read about one run directory."""

    path: str | None = None
    rel_path: str | None = None
    results_root: str | None = None
    planned: bool = False
    benchmark: str | None = None
    command: str | None = None
    model: str | None = None
    run_datetime: str | None = None
    division: str | None = None
    org: str | None = None
    system: str | None = None
    layout: dict = dataclasses.field(default_factory=dict)
    metadata: dict | None = None
    metadata_file: str | None = None
    source: str | None = None
    parameters: dict = dataclasses.field(default_factory=dict)
    overrides: dict = dataclasses.field(default_factory=dict)
    num_processes: int | None = None
    accelerator: str | None = None
    args: dict = dataclasses.field(default_factory=dict)
    system_info: dict | None = None
    summary: dict | None = None
    summary_file: str | None = None
    per_epoch_files: list = dataclasses.field(default_factory=list)
    fs_separation: dict | None = None
    vdb_config: dict | None = None
    vdb_verdict: dict | None = None
    files: list = dataclasses.field(default_factory=list)
    load_issues: list = dataclasses.field(default_factory=list)
    edition_hint: str | None = None
    provenance: dict | None = None  # provenance.json, read for the edition it records

    def __post_init__(self):
        self.path = os.path.abspath(self.path) if self.path else None

    # -- derived values -------------------------------------------------------------------
    @property
    def run_id(self):
        parts = [p for p in (self.benchmark, self.command, self.model, self.run_datetime) if p]
        return "_".join(str(p) for p in parts) or (os.path.basename(self.path) if self.path else "planned")

    @property
    def start_time(self):
        """When the measured work began: summary start, else invocation start, else the dir stamp."""
        for value in (get_path(self.summary, "start"), get_path(self.summary, "start_time"),
                      get_path(self.metadata, "invocation_start_time")):
            parsed = parse_time(value)
            if parsed:
                return parsed
        return parse_run_datetime(self.run_datetime)

    @property
    def end_time(self):
        for value in (get_path(self.summary, "end"), get_path(self.summary, "end_time"),
                      get_path(self.metadata, "invocation_end_time")):
            parsed = parse_time(value)
            if parsed:
                return parsed
        return None

    @property
    def invocation_start(self):
        return parse_time(get_path(self.metadata, "invocation_start_time")) or self.start_time

    @property
    def invocation_end(self):
        """Write-phase end for the checkpoint gap, on the same clock as invocation_start_time.

        Snapshot timestamps are UTC ("Z") while invocation times are the launcher's local time,
        so the snapshot is only the last resort.
        """
        recorded = parse_time(get_path(self.metadata, "invocation_end_time"))
        if recorded:
            return recorded
        if self.end_time:
            return self.end_time
        start = parse_time(get_path(self.metadata, "invocation_start_time"))
        runtime = get_path(self.metadata, "runtime")
        if start and isinstance(runtime, (int, float)) and not isinstance(runtime, bool):
            return start + _dt.timedelta(seconds=float(runtime))
        return parse_time(get_path(self.metadata, "cluster_snapshots.end.collection_timestamp"))

    @property
    def duration_s(self):
        start, end = self.start_time, self.end_time
        if start and end:
            return (end - start).total_seconds()
        runtime = get_path(self.metadata, "runtime")
        return float(runtime) if isinstance(runtime, (int, float)) and not isinstance(runtime, bool) else None

    @property
    def metric(self):
        m = get_path(self.summary, "metric")
        return m if isinstance(m, dict) else {}

    def param(self, dotted, default=None):
        return get_path(self.parameters, dotted, default)

    @property
    def engine(self):
        eng = get_path(self.metadata, "engine")
        return eng if isinstance(eng, dict) else {}

    @property
    def data_access_protocol(self):
        return (self.args.get("data_access_protocol") or "file") if isinstance(self.args, dict) else "file"

    def add_load_issue(self, validation, message, rule_id, parameter=None, expected=None, actual=None,
                       severity=None):
        if severity is None:
            severity = "error" if validation != CLOSED else INFO
        self.load_issues.append(Issue(validation, message, parameter=parameter, expected=expected, actual=actual,
                                      severity=severity, rule_id=rule_id, check="load_run"))


# ----------------------------------------------------------------------------------------------
# parsing helpers (text in, data out; the error text says where and what)
# ----------------------------------------------------------------------------------------------
class ParseError(ValueError):
    pass


def _looks_truncated(text):
    """True when the JSON text ends inside a string or with unclosed brackets."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
    return in_string or depth > 0


def parse_json_text(text, where):
    try:
        return json.loads(text)
    except ValueError as exc:
        if not text.strip():
            raise ParseError("%s is empty" % where)
        hint = " (the file ends early: truncated)" if _looks_truncated(text) else ""
        raise ParseError("%s is not valid JSON: %s%s" % (where, exc, hint))


def parse_yaml_text(text, where):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = " at line %d column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParseError("%s is not valid YAML%s: %s" % (where, pos, problem))


def _read_text(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    return raw.decode("utf-8", errors="replace")


def _load_json_file(run, relname, rule_id="LOAD-01", required=True):
    """Parse one JSON file of the run; a parse failure becomes an INVALID load issue."""
    full = os.path.join(run.path, relname)
    try:
        text = _read_text(full)
    except OSError as exc:
        if required:
            run.add_load_issue(INVALID, "cannot read %s: %s" % (relname, exc.strerror or exc), rule_id,
                               parameter=relname)
        return None
    try:
        return parse_json_text(text, relname)
    except ParseError as exc:
        run.add_load_issue(INVALID, "%s; re-collect the file from the run host or re-run" % exc, rule_id,
                           parameter=relname)
        return None


def _load_yaml_file(run, relname, rule_id="LOAD-02"):
    full = os.path.join(run.path, relname)
    try:
        text = _read_text(full)
    except OSError:
        return None
    try:
        return parse_yaml_text(text, relname)
    except ParseError as exc:
        run.add_load_issue(INVALID, "%s; the engine configuration of this run cannot be trusted" % exc, rule_id,
                           parameter=relname)
        return None


# ----------------------------------------------------------------------------------------------
# layout
# ----------------------------------------------------------------------------------------------
def _list_files(path, max_depth=2):
    out = []
    base_depth = path.rstrip(os.sep).count(os.sep)
    for dirpath, dirnames, filenames in os.walk(path):
        depth = dirpath.count(os.sep) - base_depth
        if depth >= max_depth:
            dirnames[:] = []
        dirnames[:] = sorted(d for d in dirnames if not re.match(r"^(option|trial|rank)_\d+$", d))
        for fn in sorted(filenames):
            out.append(os.path.relpath(os.path.join(dirpath, fn), path).replace(os.sep, "/"))
    return out


def is_run_dir(path, names=None):
    """A run leaf holds a *_metadata.json, a summary.json, or an engine config directory."""
    if names is None:
        try:
            names = os.listdir(path)
        except OSError:
            return False
    for name in names:
        if fnmatch.fnmatch(name, METADATA_GLOB) or name == "summary.json":
            return True
    if "dlio_config" in names and os.path.isdir(os.path.join(path, "dlio_config")):
        return True
    return RUN_DIR_RE.match(os.path.basename(path.rstrip(os.sep))) is not None and (
        "statistics.json" in names or any(n.startswith("kvcache_run_summary") for n in names))


def iter_run_dirs(root):
    """Every run leaf under root (a run leaf is not searched further)."""
    root = os.path.abspath(root)
    if is_run_dir(root):
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath != root and is_run_dir(dirpath, dirnames + filenames):
            dirnames[:] = []
            yield dirpath
            continue
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))


# ----------------------------------------------------------------------------------------------
# the loader
# ----------------------------------------------------------------------------------------------
def _pick_metadata(run, names):
    candidates = sorted(n for n in names if fnmatch.fnmatch(n, METADATA_GLOB))
    if not candidates:
        return None
    if len(candidates) > 1:
        run.add_load_issue(
            INVALID,
            "run directory holds %d metadata files; a run leaf must hold exactly one *_metadata.json "
            "(remove the stray copies or split the runs into their own directories)" % len(candidates),
            "LEAF-01", parameter="*_metadata.json", expected=1, actual=candidates)
        stamp = os.path.basename(run.path)
        for name in candidates:
            if name.endswith("_%s_metadata.json" % stamp):
                return name
    return candidates[0]


def _apply_metadata(run, meta):
    run.metadata = meta
    run.source = "metadata"
    bench = normalize_benchmark(meta.get("benchmark_type"))
    if meta.get("benchmark_type") is not None and bench is None:
        run.add_load_issue(INVALID, "unknown benchmark type %r in %s; expected one of %s"
                           % (meta.get("benchmark_type"), run.metadata_file, ", ".join(BENCHMARKS)),
                           "LOAD-03", parameter="benchmark_type", expected=list(BENCHMARKS),
                           actual=meta.get("benchmark_type"))
    run.benchmark = bench or run.benchmark
    run.command = meta.get("command") or run.command
    run.model = meta.get("model") or run.model
    run.run_datetime = meta.get("run_datetime") or run.run_datetime
    params = meta.get("parameters")
    run.parameters = params if isinstance(params, dict) else {}
    ovr = meta.get("override_parameters")
    run.overrides = ovr if isinstance(ovr, dict) else {}
    run.num_processes = to_int(meta.get("num_processes"))
    args = meta.get("args")
    run.args = args if isinstance(args, dict) else {}
    run.accelerator = meta.get("accelerator") or run.args.get("accelerator_type")
    run.system_info = meta.get("system_info") if isinstance(meta.get("system_info"), dict) else None
    tool = meta.get("tool")
    if isinstance(tool, dict) and tool.get("rules_edition"):
        run.edition_hint = str(tool["rules_edition"])
    if meta.get("rules_edition"):
        run.edition_hint = str(meta["rules_edition"])


def _apply_dlio_config(run, names):
    """Rebuild a run from the engine's own files (no complete metadata)."""
    config = _load_yaml_file(run, "dlio_config/config.yaml") if "dlio_config/config.yaml" in names else None
    overrides = _load_yaml_file(run, "dlio_config/overrides.yaml") if "dlio_config/overrides.yaml" in names else None
    workload = get_path(config, "workload") if isinstance(config, dict) else None
    if not isinstance(workload, dict):
        return False
    run.source = "dlio"
    run.parameters = workload
    wf = workload.get("workflow") or {}
    if wf.get("generate_data") or wf.get("train"):
        run.benchmark = "training"
        run.command = "run" if wf.get("train") else "datagen"
    elif wf.get("checkpoint"):
        run.benchmark = "checkpointing"
        run.command = "run"
    model = get_path(workload, "model.name") or workload.get("model")
    if isinstance(model, str):
        if model.startswith("llama_"):
            model = "llama3-" + model[len("llama_"):].replace("_", "-")
        run.model = run.model or model
    if isinstance(overrides, list):
        for entry in overrides:
            if not isinstance(entry, str):
                continue
            if entry.startswith("++workload.") and "=" in entry:
                key, value = entry[len("++workload."):].split("=", 1)
                run.overrides[key] = value
            elif entry.startswith("workload=") and "_" in entry:
                run.accelerator = entry.split("=", 1)[1].split("_", 1)[1]
    return True


def _load_summary(run, names):
    bench = run.benchmark
    if bench == "vector_database":
        for cand in ("summary.json", "statistics.json"):
            if cand in names:
                run.summary = _load_json_file(run, cand, "LOAD-04")
                run.summary_file = cand
                if cand == "statistics.json" and run.summary is not None:
                    run.add_load_issue(CLOSED, "no summary.json; metrics read from the native statistics.json",
                                       "LOAD-05", parameter="summary.json", severity=INFO)
                break
        if "config.json" in names:
            run.vdb_config = _load_json_file(run, "config.json", "LOAD-04", required=False)
        if "result_verdict.json" in names:
            run.vdb_verdict = _load_json_file(run, "result_verdict.json", "LOAD-04")
        return
    if bench == "kv_cache":
        if "summary.json" in names:
            run.summary = _load_json_file(run, "summary.json", "LOAD-04")
            run.summary_file = "summary.json"
        else:
            legacy = sorted(n for n in names if re.match(r"^kvcache_run_summary.*\.json$", n))
            if legacy:
                run.summary = _load_json_file(run, legacy[0], "LOAD-04")
                run.summary_file = legacy[0]
                run.add_load_issue(CLOSED, "aggregated summary found under the older name %s; rename it to "
                                   "summary.json" % legacy[0], "LOAD-05", parameter="summary.json",
                                   severity=WARNING)
        return
    cands = [n for n in names if "/" not in n and (n == "summary.json" or n.endswith("_summary.json"))]
    if cands:
        name = "summary.json" if "summary.json" in cands else sorted(cands)[0]
        run.summary = _load_json_file(run, name, "LOAD-04")
        run.summary_file = name
        if run.summary is not None and not isinstance(run.summary, dict):
            run.add_load_issue(INVALID, "%s must hold a JSON object, found %s" % (name, type(run.summary).__name__),
                               "LOAD-04", parameter=name)
            run.summary = None


# How the run's CHECKSUMS.sha256 is verified: "sha256" hashes every listed file (the default), "presence" only
# checks that the listed files are there and that nothing was added (for very large trees; see docs/verify.md).
CHECKSUM_MODES = ("sha256", "presence")
# The files the verdict is built from (what this loader reads). One of them present but not in the manifest
# was added after the run was sealed: the verdict would rest on unsealed evidence.
_EVIDENCE_TOP = ("*_metadata.json", "summary.json", "*_summary.json", "statistics.json", "kvcache_run_summary*.json",
                 "config.json", "result_verdict.json", "fs_separation.json", "provenance.json", "*per_epoch_stats.json")
_EVIDENCE_NESTED = ("dlio_config/config.yaml", "dlio_config/overrides.yaml")
_MANIFEST_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def check_checksum_mode(mode):
    if mode not in CHECKSUM_MODES:
        raise ValueError("checksums must be one of %s, got %r" % (", ".join(CHECKSUM_MODES), mode))
    return mode


def _is_evidence(rel):
    if "/" in rel:
        return rel in _EVIDENCE_NESTED
    return any(fnmatch.fnmatch(rel, pattern) for pattern in _EVIDENCE_TOP)


def _summarize(names, limit=5):
    shown = ", ".join(names[:limit])
    return shown + (" and %d more" % (len(names) - limit) if len(names) > limit else "")


def _verify_checksums(run, names, mode="sha256"):
    """CHECKSUMS.sha256 ('<sha256>  <relative path>' per line) against the run directory.

    No manifest, no finding (published trees carry none). With one: a listed file that changed is INTEGRITY-01,
    a listed file that is missing INTEGRITY-02, a malformed or repeated line INTEGRITY-03 (all INVALID); a file
    present but not listed is INTEGRITY-04 (INVALID) when the verdict is read from it, else INTEGRITY-05 (a
    CLOSED warning). mode "presence" skips the hashing (INTEGRITY-01 is then not checked).
    """
    if CHECKSUM_FILE not in names:
        return
    try:
        text = _read_text(os.path.join(run.path, CHECKSUM_FILE))
    except OSError as exc:
        run.add_load_issue(INVALID, "cannot read %s: %s" % (CHECKSUM_FILE, exc), "INTEGRITY-03",
                           parameter=CHECKSUM_FILE)
        return
    listed = set()
    present = checked = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _MANIFEST_LINE.match(line)
        rel = m.group(2).strip() if m else None
        if not m or rel.startswith("/") or ".." in rel.split("/"):
            run.add_load_issue(INVALID, "%s line %d is not '<sha256>  <relative path>': %r"
                               % (CHECKSUM_FILE, lineno, line[:120]), "INTEGRITY-03", parameter=CHECKSUM_FILE)
            continue
        if rel in listed:
            run.add_load_issue(INVALID, "%s line %d lists %s a second time; the manifest was not written by the "
                               "seal" % (CHECKSUM_FILE, lineno, rel), "INTEGRITY-03", parameter=rel)
            continue
        listed.add(rel)
        full = os.path.join(run.path, rel)
        try:
            mode_bits = os.lstat(full).st_mode
        except OSError:
            mode_bits = 0
        if stat.S_ISLNK(mode_bits):
            run.add_load_issue(INVALID, "file %s listed in %s was replaced by a symbolic link after the run was "
                               "sealed" % (rel, CHECKSUM_FILE), "INTEGRITY-01", parameter=rel)
            continue
        if not stat.S_ISREG(mode_bits):
            run.add_load_issue(INVALID, "file %s listed in %s is missing from the run directory" % (rel, CHECKSUM_FILE),
                               "INTEGRITY-02", parameter=rel)
            continue
        present += 1
        if mode != "sha256":
            continue
        try:
            actual = sha256_file(full)
        except OSError as exc:
            run.add_load_issue(INVALID, "cannot read %s to check it against %s: %s"
                               % (rel, CHECKSUM_FILE, exc.strerror or exc), "INTEGRITY-01", parameter=rel)
            continue
        checked += 1
        if actual != m.group(1).lower():
            run.add_load_issue(INVALID, "file %s does not match its checksum in %s: it changed after collection"
                               % (rel, CHECKSUM_FILE), "INTEGRITY-01", parameter=rel,
                               expected=m.group(1).lower(), actual=actual)
    unlisted = sorted(set(sealed_files(run.path)) - listed)
    evidence = [rel for rel in unlisted if _is_evidence(rel)]
    for rel in evidence:
        run.add_load_issue(INVALID, "%s is not listed in %s: it was added after the run was sealed, and the verdict "
                           "would rest on it" % (rel, CHECKSUM_FILE), "INTEGRITY-04", parameter=rel)
    others = [rel for rel in unlisted if rel not in evidence]
    if others:
        run.add_load_issue(CLOSED, "%d file(s) not listed in %s were added after the run was sealed (%s); the "
                           "verdict does not read them, remove them from the run directory"
                           % (len(others), CHECKSUM_FILE, _summarize(others)), "INTEGRITY-05",
                           parameter=CHECKSUM_FILE, actual=others, severity=WARNING)
    if checked:
        run.add_load_issue(CLOSED, "%d file(s) match %s" % (checked, CHECKSUM_FILE), "INTEGRITY-01",
                           parameter=CHECKSUM_FILE, severity=INFO)
    elif present and mode != "sha256":
        run.add_load_issue(CLOSED, "%d file(s) listed in %s are present; their contents were not hashed "
                           "(checksums=%s)" % (present, CHECKSUM_FILE, mode), "INTEGRITY-02",
                           parameter=CHECKSUM_FILE, severity=INFO)


def load_run(path, results_root=None, checksums="sha256") -> Run:
    """Load one run directory. Never raises for bad content; see Run.load_issues.

    checksums: how a CHECKSUMS.sha256 in the run directory is verified (CHECKSUM_MODES)."""
    check_checksum_mode(checksums)
    run = Run(path)
    layout = parse_layout(run.path)
    run.layout = layout
    run.benchmark = layout.get("benchmark")
    run.command = layout.get("command")
    run.model = layout.get("model")
    run.run_datetime = layout.get("run_datetime")
    run.division = layout.get("division")
    run.org = layout.get("org")
    run.system = layout.get("system")
    if results_root is None:
        root_parts = layout.get("root_parts")
        results_root = "/" + "/".join(root_parts) if root_parts else os.path.dirname(run.path)
    run.results_root = os.path.abspath(results_root)
    run.rel_path = os.path.relpath(run.path, run.results_root).replace(os.sep, "/")

    if not os.path.isdir(run.path):
        run.add_load_issue(INVALID, "run directory %s does not exist" % run.path, "LOAD-00", parameter="path")
        return run
    names = _list_files(run.path)
    run.files = names
    top = [n for n in names if "/" not in n]

    meta_name = _pick_metadata(run, top)
    if meta_name:
        run.metadata_file = meta_name
        meta = _load_json_file(run, meta_name, "LOAD-01")
        if meta is not None and not isinstance(meta, dict):
            run.add_load_issue(INVALID, "%s must hold a JSON object, found %s" % (meta_name, type(meta).__name__),
                               "LOAD-01", parameter=meta_name)
            meta = None
        if isinstance(meta, dict):
            missing = [k for k in _REQUIRED_METADATA_KEYS if k not in meta]
            if missing:
                run.add_load_issue(CLOSED, "%s is incomplete (missing %s); falling back to the engine's files"
                                   % (meta_name, ", ".join(missing)), "LOAD-06", parameter=meta_name,
                                   severity=INFO)
            _apply_metadata(run, meta)
            if missing:
                run.source = None

    identified = run.source == "metadata"
    if not identified:
        identified = _apply_dlio_config(run, names)
    if run.benchmark:
        _load_summary(run, names)
    if run.source == "dlio" and isinstance(run.summary, dict):
        if run.num_processes is None:
            run.num_processes = to_int(run.summary.get("num_accelerators"))
        start = parse_time(run.summary.get("start"))
        if start and not run.run_datetime:
            run.run_datetime = start.strftime("%Y%m%d_%H%M%S")
    if not identified and run.metadata is None:
        run.add_load_issue(
            INVALID,
            "cannot identify this run: no *_metadata.json and no readable dlio_config/config.yaml "
            "(restore the run's metadata file from the run host)", "LOAD-07", parameter="*_metadata.json")
    if run.benchmark is None and not any(i.rule_id in ("LOAD-03", "LOAD-07") for i in run.load_issues):
        run.add_load_issue(INVALID, "cannot tell the benchmark of this run: neither its metadata nor its path "
                           "(<benchmark>/<model>/...) names one of %s" % ", ".join(BENCHMARKS), "LOAD-03",
                           parameter="benchmark_type", expected=list(BENCHMARKS))

    run.per_epoch_files = sorted(n for n in top if n.endswith("per_epoch_stats.json"))
    if "fs_separation.json" in top:
        run.fs_separation = _load_json_file(run, "fs_separation.json", "LOAD-08")
    if "provenance.json" in top:
        prov = _load_json_file(run, "provenance.json", "LOAD-08", required=False)
        run.provenance = prov if isinstance(prov, dict) else None
        if isinstance(prov, dict) and prov.get("rules_edition") and not run.edition_hint:
            run.edition_hint = str(prov["rules_edition"])
    _verify_checksums(run, top, checksums)
    return run


def run_from_metadata(metadata, division=None) -> Run:
    """A not-yet-run run built from a planned metadata dict (classify_planned_run)."""
    run = Run(None)
    run.planned = True
    run.rel_path = None
    if not isinstance(metadata, dict):
        run.add_load_issue(INVALID, "planned run metadata must be a mapping, got %s" % type(metadata).__name__,
                           "LOAD-01", parameter="metadata")
        return run
    _apply_metadata(run, metadata)
    mode = run.args.get("mode") if isinstance(run.args, dict) else None
    run.division = division or mode
    if run.benchmark is None:
        run.add_load_issue(INVALID, "planned run has no recognised benchmark_type (got %r); expected one of %s"
                           % (metadata.get("benchmark_type"), ", ".join(BENCHMARKS)), "LOAD-03",
                           parameter="benchmark_type", expected=list(BENCHMARKS),
                           actual=metadata.get("benchmark_type"))
    return run
