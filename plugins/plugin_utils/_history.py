# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history of a results tree: one record per benchmark playbook that wrote into it.

A record says which playbook ran, when, on which hosts, with which of the collection's variables (secrets left
out), with which collection version, what it left (run directories) and the verdict. Records live in
``<results tree>/.mlperf-history/``, one file per invocation (``<id>.json``) beside the variables alone
(``<id>.vars.json``), so that ``ansible-playbook mlperf.storage.<playbook> -e @<id>.vars.json`` runs it again.
Files are written whole (temporary file, then rename) and never rewritten: a second playbook on the same tree, or
an interrupted one, cannot damage another's record.
"""
from __future__ import annotations

import datetime
import glob
import json
import os
import re
import secrets

import yaml

HISTORY_DIR = ".mlperf-history"
# The playbook that runs each benchmark (the results lock's results_benchmark names the benchmark).
PLAYBOOKS = {
    "training": "run_training",
    "training_datagen": "datagen",  # the training dataset generated on its own
    "checkpointing": "run_checkpointing",
    "kv_cache": "run_kvcache",
    "vector_database": "run_vectordb",
}
# Names that hold secrets: never written, listed as omitted so a rerun knows to pass them again.
SECRET_NAME = re.compile(r"pass(word|wd|phrase)?|secret|token|credential|private_key|api_key", re.I)
ID_RE = re.compile(r"^\d{8}_\d{6}_[a-z_]+_[0-9a-f]{6}$")
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class HistoryError(Exception):
    """A history that cannot be read or written; the message says which file and why."""


def collection_version(root=COLLECTION_ROOT):
    """The version of this collection: MANIFEST.json when installed, galaxy.yml in a checkout."""
    try:
        with open(os.path.join(root, "MANIFEST.json"), encoding="utf-8") as handle:
            return str(json.load(handle)["collection_info"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as handle:
            return str(yaml.safe_load(handle)["version"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return "unknown"


def interface_variables(root=COLLECTION_ROOT):
    """Every variable the collection's roles declare in their argument specs (the variables a user may set)."""
    names = set()
    for path in glob.glob(os.path.join(root, "roles", "*", "meta", "argument_specs.yml")):
        try:
            with open(path, encoding="utf-8") as handle:
                specs = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
        except (OSError, yaml.YAMLError):
            continue
        for entry in specs.values():
            names.update((entry or {}).get("options") or {})
    return names


def split_secrets(variables):
    """(variables to record, sorted names left out because they hold secrets)."""
    kept, omitted = {}, []
    for name, value in sorted(variables.items()):
        if SECRET_NAME.search(name):
            omitted.append(name)
        else:
            kept[name] = value
    return kept, omitted


def new_id(benchmark, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return "%s_%s_%s" % (now.strftime("%Y%m%d_%H%M%S"), benchmark, secrets.token_hex(3))


def _write_new(path, data):
    """Write a JSON file that must not exist yet (a record is never rewritten)."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write("\n")
    try:
        os.link(tmp, path)  # fails when the name exists: two writers never share a record
    finally:
        os.unlink(tmp)


def append(results_dir, benchmark, variables, hosts, run_dirs, verdict, outcome, started=None, inventory=None,
           now=None):
    """Record one invocation; returns the record (with its ``id`` and the ``rerun`` command)."""
    if benchmark not in PLAYBOOKS:
        raise HistoryError("unknown benchmark %r; expected one of %s" % (benchmark, ", ".join(sorted(PLAYBOOKS))))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    kept, omitted = split_secrets(variables)
    directory = os.path.join(results_dir, HISTORY_DIR)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise HistoryError("cannot create %s: %s" % (directory, exc)) from exc
    record_id = new_id(benchmark, now)
    vars_file = os.path.join(directory, record_id + ".vars.json")
    record = {
        "id": record_id,
        "playbook": "mlperf.storage." + PLAYBOOKS[benchmark],
        "benchmark": benchmark,
        "started": started,
        "finished": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "collection_version": collection_version(),
        "hosts": list(hosts),
        "inventory": list(inventory or []),
        "variables": kept,
        "omitted_secrets": omitted,
        "run_dirs": [os.path.relpath(p, results_dir) if os.path.isabs(p) else p for p in run_dirs],
        "verdict": verdict,
        "outcome": outcome,
    }
    record["rerun"] = rerun_command(record, vars_file)
    try:
        _write_new(vars_file, kept)
        _write_new(os.path.join(directory, record_id + ".json"), record)
    except OSError as exc:
        raise HistoryError("cannot write the history record in %s: %s" % (directory, exc)) from exc
    return record


def rerun_command(record, vars_file):
    """The command that runs an entry again with the same variables (secrets must be given again)."""
    argv = ["ansible-playbook", record["playbook"]]
    for source in record.get("inventory") or []:
        argv += ["-i", source]
    argv += ["-e", "@" + vars_file]
    command = " ".join(_quote(a) for a in argv)
    if record.get("omitted_secrets"):
        command += "  # and pass again: " + ", ".join(record["omitted_secrets"])
    return command


def _quote(arg):
    return arg if re.match(r"^[A-Za-z0-9_@%+=:,./-]+$", arg) else "'" + arg.replace("'", "'\\''") + "'"


def read(results_dir):
    """Every record of the tree, oldest first, and the problems of files that could not be read."""
    directory = os.path.join(results_dir, HISTORY_DIR)
    records, problems = [], []
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        name = os.path.basename(path)
        if name.endswith(".vars.json"):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError) as exc:
            problems.append("%s: %s" % (path, exc))
            continue
        if not isinstance(record, dict) or record.get("id") != name[:-len(".json")]:
            problems.append("%s: not a history record of this collection" % path)
            continue
        records.append(record)
    records.sort(key=lambda r: r["id"])
    return records, problems


def find(records, wanted):
    """The record named by ``wanted``: its id, or a number counted from the newest (1 = the last one)."""
    text = str(wanted).strip()
    if text.isdigit() and not ID_RE.match(text):
        index = int(text)
        if not 1 <= index <= len(records):
            raise HistoryError("history entry %s: the history has %d entr%s; give 1 (the newest) to %d, or an id"
                               % (index, len(records), "y" if len(records) == 1 else "ies", max(len(records), 1)))
        return records[-index]
    for record in records:
        if record["id"] == text:
            return record
    raise HistoryError("no history entry %r; list the entries with playbooks/history.yml and give an id or a "
                       "number (1 = the newest)" % text)


def lines(records, last=20):
    """One line per record, newest last: id, playbook, verdict, outcome, runs, hosts."""
    out = []
    for record in records[-last:] if last else records:
        out.append("%s  %-34s %-8s %-10s %d run dir(s) on %s" % (
            record["id"], record["playbook"], record.get("verdict") or "-", record.get("outcome") or "-",
            len(record.get("run_dirs") or []), ", ".join(record.get("hosts") or []) or "-"))
    return out
