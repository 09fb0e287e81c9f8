#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test stand-in for the MLPerf DLIO build in checkpointing runs: checks the command line, replays a recording.

See tests/standins/README.md. Exit status 2 = the command line or the workload is not what the MLPerf DLIO
would accept for a checkpointing run; 3 = no recording fits (rank count, checkpoint counts); 0 = replayed.
"""
import json
import os
import re
import shutil
import sys

import yaml

# published runs of ../shared/corpus, by (checkpoint writes, checkpoint reads)
RECORDINGS = {
    (10, 10): "closed/Nebius/results/nebius-s3-ckpt-llama3-8b/checkpointing/llama3-8b/20260714_120349",
    (10, 0): "closed/NewFW/results/Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC/checkpointing/llama3-8b/20260713_162640",
    (0, 10): "closed/NewFW/results/Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC/checkpointing/llama3-8b/20260713_162955",
}
RECORDED_MODEL = "llama_8b"


def fail(code, message):
    sys.stderr.write("dlio_benchmark (replay stand-in): error: %s\n" % message)
    sys.exit(code)


def hydra_value(text):
    """The value of a hydra override as hydra reads it (quoted string, bool, null, int, float, bare string)."""
    if len(text) >= 2 and text[0] == text[-1] == "'":
        body = text[1:-1]
        return re.sub(r"\\(\\*)'", lambda m: m.group(1)[: len(m.group(1)) // 2] + "'", body)
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_argv(argv):
    """{workload, run_dir, output_subdir, overrides [(key, value)], config_dir, tokens}; exits 2 on anything else."""
    if not argv or not argv[0].startswith("workload="):
        fail(2, "the first argument must be workload=<name>, got %r" % (argv[:1],))
    parsed = {"workload": argv[0].split("=", 1)[1], "overrides": [], "tokens": list(argv[:-1])}
    if not argv[-1].startswith("--config-dir="):
        fail(2, "the last argument must be --config-dir=<dir>, got %r" % argv[-1])
    parsed["config_dir"] = argv[-1].split("=", 1)[1]
    for token in argv[1:-1]:
        key, sep, value = token.partition("=")
        if not sep:
            fail(2, "argument %r is not key=value" % token)
        if key == "++hydra.run.dir":
            parsed["run_dir"] = hydra_value(value)
        elif key == "++hydra.output_subdir":
            parsed["output_subdir"] = hydra_value(value)
        elif key.startswith("++workload.") and re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
                                                          key[len("++workload."):]):
            parsed["overrides"].append((key[len("++workload."):], hydra_value(value)))
        else:
            fail(2, "unrecognised argument %r" % token)
    for need in ("run_dir", "output_subdir"):
        if not parsed.get(need):
            fail(2, "++hydra.%s is missing" % ("run.dir" if need == "run_dir" else "output_subdir"))
    return parsed


def merged_workload(parsed):
    path = os.path.join(parsed["config_dir"], "workload", parsed["workload"] + ".yaml")
    try:
        with open(path, "r", encoding="utf-8") as handle:
            workload = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        fail(2, "cannot read the workload %s: %s" % (path, exc))
    if not isinstance(workload, dict):
        fail(2, "the workload %s is not a mapping" % path)
    for key, value in parsed["overrides"]:
        node = workload
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                fail(2, "override %s descends into a non-mapping" % key)
        node[parts[-1]] = value
    return workload


def check_checkpoint_mode(workload, size):
    """The MLPerf DLIO's own validation of the checkpoint mode against the world size (utils/config.py validate() of
    the mlperf_storage_v2.0 branch and of the v3.0 fork): it raises, and the run never starts."""
    mode = (workload.get("checkpoint") or {}).get("mode", "default")
    parallelism = workload["model"]["parallelism"]
    data = parallelism.get("data", -1)
    model_parallel = parallelism.get("tensor", 1) * parallelism.get("pipeline", 1)
    if mode not in ("default", "subset"):
        fail(2, "'%s' is not a valid CheckpointModeType" % mode)
    if mode == "default":
        if data > 0:
            fail(2, "workload.parallelism.data should not be set in default Checkpoint Mode; it will be determined "
                    "internally.")
        if size % model_parallel:
            fail(2, "Number of processes %d is not a multiple of model parallelism size: %d" % (size, model_parallel))
    elif data <= 0:
        fail(2, "To perform subset Checkpointing, please set a target data parallelism: workload.parallelism.data.")
    elif data * model_parallel < size:
        fail(2, "Comm size: %d is larger than 3D parallelism size: %d" % (size, data * model_parallel))
    return mode


def check_checkpointing(workload):
    """What the MLPerf DLIO needs to run a checkpoint-only workload; returns (writes, reads)."""
    workflow = workload.get("workflow") or {}
    if workflow.get("train") or workflow.get("generate_data") or not workflow.get("checkpoint"):
        fail(2, "not a checkpoint-only workflow: %r" % workflow)
    model = workload.get("model")
    if not isinstance(model, dict) or not str(model.get("name", "")).startswith("llama_"):
        fail(2, "model must be an LLM model block with name llama_*, got %r" % (model,))
    for key in ("parallelism", "transformer"):
        if not isinstance(model.get(key), dict):
            fail(2, "model.%s is missing" % key)
    checkpoint = workload.get("checkpoint") or {}
    if checkpoint.get("fsync") is not True:
        fail(2, "checkpoint.fsync must be true, got %r" % checkpoint.get("fsync"))
    if not str(checkpoint.get("checkpoint_folder") or "").startswith("/"):
        fail(2, "checkpoint.checkpoint_folder must be an absolute path, got %r" % checkpoint.get("checkpoint_folder"))
    counts = []
    for key in ("num_checkpoints_write", "num_checkpoints_read"):
        value = checkpoint.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            fail(2, "checkpoint.%s must be a whole number, got %r" % (key, value))
        counts.append(value)
    return tuple(counts)


def world():
    for rank_var, size_var in (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE")):
        if rank_var in os.environ:
            return int(os.environ[rank_var]), int(os.environ.get(size_var, "1"))
    return 0, 1


def main(argv):
    parsed = parse_argv(argv)
    workload = merged_workload(parsed)
    counts = check_checkpointing(workload)
    rank, size = world()
    mode = check_checkpoint_mode(workload, size)
    corpus = os.environ.get("MLPERF_REPLAY_CORPUS")
    if not corpus or not os.path.isdir(corpus):
        fail(3, "MLPERF_REPLAY_CORPUS (%r) is not the corpus directory" % corpus)
    if counts not in RECORDINGS:
        fail(3, "no recording of %d writes / %d reads" % counts)
    if workload["model"]["name"] != RECORDED_MODEL:
        fail(3, "the recordings are of %s, the workload is %s" % (RECORDED_MODEL, workload["model"]["name"]))
    recording = os.path.join(corpus, RECORDINGS[counts])
    with open(os.path.join(recording, "summary.json"), "r", encoding="utf-8") as handle:
        summary = json.load(handle)
    if size != summary["num_accelerators"]:
        fail(3, "the recording has %d ranks, this job %d" % (summary["num_accelerators"], size))
    run_dir = parsed["run_dir"]
    os.makedirs(run_dir, exist_ok=True)
    for suffix in ("output.json", "per_epoch_stats.json"):
        source = os.path.join(recording, "%d_%s" % (rank, suffix))
        if os.path.exists(source):
            shutil.copyfile(source, os.path.join(run_dir, "%d_%s" % (rank, suffix)))
    if rank == 0:
        subdir = os.path.join(run_dir, parsed["output_subdir"])
        os.makedirs(subdir, exist_ok=True)
        with open(os.path.join(subdir, "config.yaml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump({"workload": workload}, handle, sort_keys=False)
        with open(os.path.join(subdir, "overrides.yaml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump(parsed["tokens"], handle)
        with open(os.path.join(subdir, "hydra.yaml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump({"hydra": {"run": {"dir": run_dir}, "output_subdir": parsed["output_subdir"],
                                      "job": {"name": "dlio_benchmark", "config_name": "config"},
                                      "runtime": {"config_sources": [{"path": parsed["config_dir"]}]}}}, handle)
        shutil.copyfile(os.path.join(recording, "summary.json"), os.path.join(run_dir, "summary.json"))
        with open(os.path.join(run_dir, "dlio.log"), "w", encoding="utf-8") as log:
            log.write("[INFO] replay stand-in: %d writes / %d reads of %s (checkpoint mode %s) replayed from %s\n"
                      % (counts[0], counts[1], workload["model"]["name"], mode, RECORDINGS[counts]))
            recorded_log = os.path.join(recording, "dlio.log")
            if os.path.exists(recorded_log):
                with open(recorded_log, "r", encoding="utf-8", errors="replace") as handle:
                    log.write(handle.read())
        print("[OUTPUT] replayed %s into %s" % (RECORDINGS[counts], run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
