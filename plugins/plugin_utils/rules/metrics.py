# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key metrics of a run, and the aggregation of a result's runs as upstream publishes it."""
from __future__ import annotations

from .checks.checkpointing import _counts
from .checks.vector_db import vdb_recall
from .util import get_path, mean, to_int, to_number


def _r(value, digits=4):
    return round(value, digits) if isinstance(value, float) else value


def run_metrics(run) -> dict:
    """A few headline numbers per run (empty when the run produced no summary)."""
    s = run.summary if isinstance(run.summary, dict) else None
    out = {}
    if run.benchmark == "training":
        out["num_files_train"] = to_int(run.param("dataset.num_files_train"))
        out["accelerators"] = run.num_processes
        if s:
            m = run.metric
            io = to_number(m.get("train_io_mean_MB_per_second"))
            out.update({
                "au_mean_pct": _r(to_number(m.get("train_au_mean_percentage"))),
                "au_meet_expectation": m.get("train_au_meet_expectation"),
                "throughput_samples_per_s": _r(to_number(m.get("train_throughput_mean_samples_per_second"))),
                # the field is MiB/s despite its name (quirk 12.13)
                "io_MiB_per_s": _r(io),
                "read_bw_GiB_per_s": _r(io / 1024.0) if io is not None else None,
                "hosts": to_int(s.get("num_hosts")),
                "duration_s": _r(run.duration_s, 1),
            })
    elif run.benchmark == "checkpointing":
        write, read = _counts(run)
        out.update({"num_checkpoints_write": write, "num_checkpoints_read": read, "processes": run.num_processes})
        if s:
            m = run.metric
            out.update({
                "write_bw_GiB_per_s": _r(to_number(m.get("save_checkpoint_io_mean_GB_per_second"))),
                "write_duration_s": _r(to_number(m.get("save_checkpoint_duration_mean_seconds"))),
                "read_bw_GiB_per_s": _r(to_number(m.get("load_checkpoint_io_mean_GB_per_second"))),
                "read_duration_s": _r(to_number(m.get("load_checkpoint_duration_mean_seconds"))),
                "checkpoint_size_GiB": _r(to_number(m.get("checkpoint_size_GB"))),
            })
    elif run.benchmark == "vector_database" and s:
        out.update({
            "throughput_qps": _r(to_number(s.get("throughput_qps"))),
            "mean_latency_ms": _r(to_number(s.get("mean_latency_ms"))),
            "p95_latency_ms": _r(to_number(s.get("p95_latency_ms"))),
            "p99_latency_ms": _r(to_number(s.get("p99_latency_ms"))),
            "recall": _r(vdb_recall(s)),
        })
    elif run.benchmark == "kv_cache" and s:
        options = s.get("options") if isinstance(s.get("options"), dict) else {}
        for name in sorted(options):
            opt = options[name] if isinstance(options[name], dict) else {}
            out["option_%s_read_bw_GBps" % name] = _r(to_number(opt.get("aggregated_read_bandwidth_gbps")))
            out["option_%s_write_bw_GBps" % name] = _r(to_number(opt.get("aggregated_write_bandwidth_gbps")))
            out["option_%s_storage_tokens_per_s" % name] = _r(
                to_number(opt.get("aggregated_storage_throughput_tokens_per_sec")))
        out["total_ranks"] = to_int(s.get("total_ranks"))
    return {k: v for k, v in out.items() if v is not None}


def _mean_or_blank(values):
    """Upstream leaves a published cell blank when any contributing run lacks the field."""
    if not values or any(v is None for v in values):
        return None
    return _r(mean(values))


def aggregate(group, edition) -> dict:
    runs = sorted((r for r in group.runs if r.command in ("run", "run_benchmark")),
                  key=lambda r: (r.run_datetime or "", r.rel_path or ""))
    bench = group.benchmark
    out = {}
    if not runs:
        return out
    if bench == "training":
        sec = edition.section("training")
        warm = sec.get("warmup_runs", 0)
        need = sec.get("runs_per_result", len(runs))
        warmups = runs[:warm] if len(runs) > warm else []
        measured = runs[len(warmups):]
        measured = measured[-(need - warm):] if need - warm > 0 else measured
        io = [to_number(r.metric.get("train_io_mean_MB_per_second")) for r in measured]
        out["read_bw_GiB_per_s"] = _mean_or_blank([v / 1024.0 if v is not None else None for v in io])
        for key in ("train_au_percentage", "train_throughput_samples_per_second"):
            per_leaf = []
            for r in measured:
                values = r.metric.get(key)
                per_leaf.append(mean(values) if isinstance(values, list) and values else None)
            out["train_mean_of_%s" % key[len("train_"):]] = _mean_or_blank(per_leaf)
        out["measured_runs"] = [r.run_datetime for r in measured]
        out["warmup_runs"] = [r.run_datetime for r in warmups]
        out["accelerators"] = runs[-1].num_processes
    elif bench == "checkpointing":
        writes = [r for r in runs if (_counts(r)[0] or 0) > 0]
        reads = [r for r in runs if (_counts(r)[1] or 0) > 0]
        out["write_bw_GiB_per_s"] = _mean_or_blank(
            [to_number(r.metric.get("save_checkpoint_io_mean_GB_per_second")) for r in writes])
        out["write_duration_s"] = _mean_or_blank(
            [to_number(r.metric.get("save_checkpoint_duration_mean_seconds")) for r in writes])
        out["read_bw_GiB_per_s"] = _mean_or_blank(
            [to_number(r.metric.get("load_checkpoint_io_mean_GB_per_second")) for r in reads])
        out["read_duration_s"] = _mean_or_blank(
            [to_number(r.metric.get("load_checkpoint_duration_mean_seconds")) for r in reads])
        out["processes"] = runs[-1].num_processes
    elif bench == "vector_database":
        for key in ("throughput_qps", "mean_latency_ms", "p99_latency_ms"):
            out[key] = _mean_or_blank([to_number(get_path(r.summary, key)) for r in runs])
        out["recall"] = _mean_or_blank([vdb_recall(r.summary) for r in runs])
    elif bench == "kv_cache":
        primary = group.primary_run
        if primary is not None:
            out.update(run_metrics(primary))
            out["run"] = primary.run_datetime
    return {k: v for k, v in out.items() if v is not None}
