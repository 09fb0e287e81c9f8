# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reader for DLIO's own output while a run is going: its progress, from dlio.log (or stdout).

summary.json and per_epoch_stats.json are read after the run by the verifier (plugin_utils/rules/loader.py).

Target-side helper: Python 3.9+ standard library only; every function takes text, not paths.
Both the PyPI 2.0.0 build and the MLPerf generations are understood. Their log lines differ in
prefix ("[INFO] <ts> ..." vs "[OUTPUT] <ts> ...") and in a few words, so lines are matched on
the message text after the timestamp.
"""
from __future__ import absolute_import, division, print_function

import math
import os
import re

__metaclass__ = type

PHASE_STARTING = "starting"
PHASE_DATAGEN = "datagen"
PHASE_DATAGEN_DONE = "datagen_done"
PHASE_TRAINING = "training"
PHASE_CHECKPOINT = "checkpoint"
PHASE_EVAL = "eval"
PHASE_FINISHED = "finished"
PHASE_FAILED = "failed"

_RUNNING = re.compile(r"Running DLIO(?: \[(?P<mode>[^\]]+)\])? with (?P<procs>\d+) process")
_DATAGEN_START = re.compile(r"Starting data generation")
_DATAGEN_FILES = re.compile(r"Number of files for training dataset: (?P<n>\d+)")
_DATAGEN_PROGRESS = re.compile(r"Generating [^:\[]*?Data: \[[=>\-]*\] [\d.]+% (?P<i>\d+) of (?P<n>\d+)")
_DATAGEN_DONE = re.compile(r"Generation done")
_EPOCH_START = re.compile(r"Starting epoch (?P<e>\d+): (?:Overriding number of steps to )?(?P<s>\d+)")
_EPOCH_END = re.compile(r"Ending epoch (?P<e>\d+) - (?P<s>\d+) steps completed in (?P<d>[\d.]+) s")
_STEP = re.compile(r"Rank \d+ step (?P<s>\d+) processed")
_BLOCK_AU = re.compile(r"Epoch (?P<e>\d+) - Block \d+ \[Training\] Accelerator Utilization \[AU\] \(%\): (?P<au>[\d.]+)")
_CKPT_START = re.compile(r"Starting checkpoint")
_CKPT_END = re.compile(r"Ending checkpoint")
_EVAL_START = re.compile(r"Starting eval")
_EVAL_END = re.compile(r"Ending eval")
_SAVED = re.compile(r"Saved outputs in|outputs saved in RANKID_output\.json")
_EPOCHS_CFG = re.compile(r"^\[OUTPUT\]\s+epochs\s*=\s*(?P<n>\d+)\s*$")
_METRIC = re.compile(r"\[METRIC\] (?P<name>[^:=]+?): (?P<mean>-?[\d.]+|nan)(?: \((?P<std>-?[\d.]+|nan)\))?\s*$")
_FAILURE = re.compile(r"^(?:Traceback \(most recent call last\)|\[ERROR\]|.*(?:Error|Exception): )")


def _number(text):
    value = float(text)
    return None if math.isnan(value) else value


def progress_from_log(text, epochs=None):
    """Where a DLIO run is, from the text of its dlio.log (or its stdout) so far.

    Returns {phase, epoch, epochs, epochs_completed, step, steps_per_epoch, files_written,
    files_total, processes, last_au_percentage, percent, metrics, error}. Unknown values are None.
    ``epochs`` may be given by the caller (the PyPI build does not log its epoch count).
    files_written during data generation is rank 0's position ("N of T"), so it is approximate
    until the "Generation done" line.
    """
    state = {
        "phase": None, "epoch": None, "epochs": epochs, "epochs_completed": 0, "step": None,
        "steps_per_epoch": None, "files_written": None, "files_total": None, "processes": None,
        "last_au_percentage": None, "percent": None, "metrics": {}, "error": None,
    }
    generate_only = False
    for raw in (text or "").splitlines():
        line = raw.rstrip()
        match = _RUNNING.search(line)
        if match:
            state["phase"] = PHASE_STARTING
            state["processes"] = int(match.group("procs"))
            generate_only = (match.group("mode") or "").lower().startswith("generat")
            continue
        match = _EPOCHS_CFG.match(line)
        if match and state["epochs"] is None:
            state["epochs"] = int(match.group("n"))
            continue
        if _DATAGEN_START.search(line):
            state["phase"] = PHASE_DATAGEN
            state["files_written"] = 0
            continue
        match = _DATAGEN_FILES.search(line)
        if match:
            state["files_total"] = int(match.group("n"))
            continue
        match = _DATAGEN_PROGRESS.search(line)
        if match:
            state["phase"] = PHASE_DATAGEN
            state["files_written"] = int(match.group("i"))
            state["files_total"] = int(match.group("n"))
            continue
        if _DATAGEN_DONE.search(line):
            state["phase"] = PHASE_DATAGEN_DONE
            if state["files_total"] is not None:
                state["files_written"] = state["files_total"]
            continue
        match = _EPOCH_START.search(line)
        if match:
            state["phase"] = PHASE_TRAINING
            state["epoch"] = int(match.group("e"))
            state["steps_per_epoch"] = int(match.group("s"))
            state["step"] = 0
            continue
        match = _STEP.search(line)
        if match and state["phase"] in (PHASE_TRAINING, PHASE_CHECKPOINT):
            state["step"] = max(state["step"] or 0, int(match.group("s")))
            continue
        match = _BLOCK_AU.search(line)
        if match:
            state["last_au_percentage"] = float(match.group("au"))
            continue
        match = _EPOCH_END.search(line)
        if match:
            state["epochs_completed"] = max(state["epochs_completed"], int(match.group("e")))
            state["step"] = int(match.group("s"))
            continue
        if _CKPT_START.search(line):
            state["phase"] = PHASE_CHECKPOINT
            continue
        if _CKPT_END.search(line) or _EVAL_END.search(line):
            state["phase"] = PHASE_TRAINING
            continue
        if _EVAL_START.search(line):
            state["phase"] = PHASE_EVAL
            continue
        match = _METRIC.search(line)
        if match:
            state["metrics"][match.group("name").strip()] = _number(match.group("mean"))
            state["phase"] = PHASE_FINISHED
            continue
        if _SAVED.search(line) and state["phase"] != PHASE_DATAGEN:
            state["phase"] = PHASE_FINISHED
            continue
        if _FAILURE.match(line) and state["error"] is None:
            state["error"] = line.strip()
    if state["error"] is not None and state["phase"] != PHASE_FINISHED:
        state["phase"] = PHASE_FAILED
    if generate_only and state["phase"] == PHASE_DATAGEN_DONE:
        state["phase"] = PHASE_FINISHED
    state["percent"] = _percent(state)
    return state


def _percent(state):
    if state["phase"] == PHASE_FINISHED:
        return 100.0
    if state["phase"] in (PHASE_DATAGEN, PHASE_DATAGEN_DONE) and state["files_total"]:
        return round(100.0 * (state["files_written"] or 0) / state["files_total"], 1)
    if state["epoch"] and state["epochs"] and state["steps_per_epoch"]:
        done_steps = (state["epoch"] - 1) * state["steps_per_epoch"] + min(state["step"] or 0,
                                                                            state["steps_per_epoch"])
        return round(100.0 * done_steps / (state["epochs"] * state["steps_per_epoch"]), 1)
    return None


_TAIL_BYTES = 262144


def read_tail(path):
    """The last 256 KiB of a log as text ('' when it cannot be read): enough for the progress lines."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _TAIL_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def describe(progress):
    """The progress as a few words: epoch e/n, files w/t, or the phase."""
    parts = []
    if progress.get("epoch") and progress.get("epochs"):
        parts.append("epoch %s/%s" % (progress["epoch"], progress["epochs"]))
    elif progress.get("epoch"):
        parts.append("epoch %s" % progress["epoch"])
    if progress.get("files_total"):
        parts.append("files %s/%s" % (progress.get("files_written") or 0, progress["files_total"]))
    if progress.get("phase") and not parts:
        parts.append(str(progress["phase"]))
    return ", ".join(parts) or "starting"
