# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run metadata file (<benchmark>_<ts>_metadata.json) in the upstream v3.x shape (rules.md §8.3).

Plain Python. Built on the controller from the plan, the engine's status and the telemetry summary.
"""
from __future__ import annotations

import copy
import shlex


def run_metadata(plan, command, run_dir, timestamp, status=None, telemetry=None, extra=None):
    """Metadata for one run leaf. ``command`` is run, datagen or datasize."""
    base = copy.deepcopy(plan["metadata_base"])
    status = status or {}
    telemetry = telemetry or {}
    benchmark = base["benchmark_type"]
    phase = "datagen" if command == "datagen" else "run"
    argv = [a.replace("@RUN_DIR@", run_dir) for a in plan["commands"][phase]["argv"]] if command != "datasize" \
        else None
    base.update(
        command=command,
        run_datetime=timestamp,
        result_dir=run_dir,
        metadata_filename="%s_%s_metadata.json" % (benchmark, timestamp),
    )
    if command == "datagen":
        base["parameters"] = copy.deepcopy(plan["datagen_parameters"])
        # data generation may run with its own rank count (training_datagen_processes)
        ranks = plan["commands"]["datagen"].get("num_processes")
        if ranks:
            base["num_processes"] = ranks
            base["args"]["num_processes"] = ranks
        base["override_parameters"] = {k: v for k, v in plan["overrides"].items() if k.startswith("dataset.")}
    if command == "datasize":
        base["parameters"].setdefault("dataset", {}).update(
            num_files_train=plan["datasize"]["required_files"],
            num_subfolders_train=plan["datasize"]["required_subfolders"],
            total_disk_bytes=plan["datasize"]["total_disk_bytes"])
        base["args"]["max_accelerators"] = base["args"].pop("num_accelerators")
        base["datasize"] = plan["datasize"]
    if telemetry.get("system_info"):
        # what the hosts really had while it ran supersedes the plan's facts-based summary
        base["system_info"] = telemetry["system_info"]
    for key in ("cluster_snapshots", "timeseries_data", "cache_drops"):
        if telemetry.get(key) is not None:
            base[key] = telemetry[key]
    base.update(
        runtime=status.get("duration_seconds"),
        invocation_start_time=status.get("start"),
        invocation_end_time=status.get("end"),
        exit_status=status.get("rc"),
        ended_by=status.get("ended_by"),
        executed_command=" ".join(shlex.quote(a) for a in argv) if argv else None,
        executed_argv=argv,
        command_output_files=[{"command": command,
                               "stdout": "%s_%s.stdout.log" % (benchmark, command),
                               "stderr": "%s_%s.stderr.log" % (benchmark, command)}] if argv else [],
        verification=plan["classification"]["verdict"] if command == "run" else None,
        planned_issues=plan["classification"]["issues"] if command == "run" else [],
        complete=bool(status) and status.get("rc") == 0 if command != "datasize" else True,
    )
    base["engine"] = dict(base.get("engine") or {}, translations=plan["engine"].get("translations", []))
    if extra:
        base.update(extra)
    return base
