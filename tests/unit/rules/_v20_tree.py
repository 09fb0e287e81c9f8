# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A v2.0-format training results tree, written by the tests from the v2.0 rules (spec rules.md 8.1, 8.3, 8.4).

The measurements (DLIO summaries, per-epoch stats, timestamps, host counts) are those of a published v3.0
unet3d result of the corpus; everything the v2.0 tool wrote differently is rewritten in its format:

* layout ``<results-dir>/training/<model>/<command>/<YYYYMMDD_HHMMSS>/`` (no division/org/system levels);
* ``training_<ts>_metadata.json`` is a dump of the v2.0 benchmark object (``args`` with the ``closed`` flag,
  ``params_dict``, ``yaml_params``, ``combined_params``, ``run_result_output`` ...), which lacks the v3.x keys
  (``parameters``, ``override_parameters``, ``system_info``, ``model``, ``command``); the run is rebuilt from
  ``dlio_config/config.yaml`` + ``overrides.yaml`` + ``summary.json``;
* the reference workload is the v2.0 one for the accelerator (values read from the 2.0 edition data);
* one datagen leaf, no datasize leaf, no ``fs_separation.json``, no provenance or code image.
"""
from __future__ import annotations

import copy
import glob
import json
import os
import shutil

import yaml

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import load_edition

from _rules_helpers import ALLUXIO_T, CORPUS, load_json, require_corpus

MODEL = "unet3d"
ACCELERATOR = "h100"
RESULTS_DIR = "/home/ubuntu/mlperf_storage_results"
# v3.x-only keys the v3.x tool injected into the workload (not part of a v2.0 run)
_V3_ONLY_DATASET_KEYS = ("skip_listing", "listing_validation_interval")


def _reference_workload(edition, model, accelerator):
    ref = edition.training_workload(model, accelerator)
    assert ref, "edition %s has no %s_%s workload" % (edition.name, model, accelerator)
    return ref


def _workload(params, ref, train, generate):
    """The DLIO workload block of a v2.0 run, from a v3.0 run's parameters and the 2.0 reference values."""
    wl = copy.deepcopy(params)
    wl["framework"] = ref["framework"]
    wl["workflow"] = {"generate_data": generate, "train": train,
                      # v2.0 unet3d run template: checkpoint True (spec 3.1); datagen: False
                      "checkpoint": bool(train and MODEL == "unet3d")}
    ds = wl.setdefault("dataset", {})
    for key in _V3_ONLY_DATASET_KEYS:
        ds.pop(key, None)
    ds["format"] = ref["format"]
    ds["num_samples_per_file"] = ref["num_samples_per_file"]
    ds["record_length_bytes"] = ref["record_length_bytes"]
    ds["num_files_train"] = int(ds["num_files_train"])
    ds["num_subfolders_train"] = int(ds.get("num_subfolders_train") or 0)
    rd = wl.setdefault("reader", {})
    rd.pop("multiprocessing_context", None)
    rd["data_loader"] = ref["data_loader"]
    rd["batch_size"] = ref["batch_size"]
    if "read_threads" in rd:
        rd["read_threads"] = int(rd["read_threads"])
    wl["train"] = {"epochs": ref["epochs"], "computation_time": ref["computation_time"]}
    wl["metric"] = {"au": ref["au"]}
    return wl


def _overrides(run_dir_abs, workload, keys):
    out = ["workload=%s_%s" % (MODEL, ACCELERATOR), "++hydra.run.dir=%s" % run_dir_abs,
           "++hydra.output_subdir=dlio_config"]
    for key in keys:
        section, name = key.split(".", 1)
        out.append("++workload.%s=%s" % (key, workload[section][name]))
    return out


def _v20_metadata(v3meta, command, ts, run_dir_abs, workload, override_keys):
    args3 = v3meta.get("args") or {}
    args = {
        "debug": False, "verbose": False, "stream_log_level": "INFO", "what_if": False,
        "allow_invalid_params": False, "closed": True, "config_file": None, "loops": 1,
        "results_dir": RESULTS_DIR, "program": "training", "command": command,
        "hosts": args3.get("hosts"), "model": MODEL, "exec_type": "mpi", "mpi_bin": "mpirun",
        "oversubscribe": False, "allow_run_as_root": False, "data_dir": args3.get("data_dir"),
        "params": ["%s=%s" % (k, workload[k.split(".", 1)[0]][k.split(".", 1)[1]]) for k in override_keys],
        "dlio_bin_path": None,
    }
    if command == "run":
        args.update({"client_host_memory_in_gb": args3.get("client_host_memory_in_gb"),
                     "num_accelerators": args3.get("num_accelerators"), "accelerator_type": ACCELERATOR,
                     "num_client_hosts": args3.get("num_client_hosts"), "checkpoint_folder": None})
    else:
        args["num_processes"] = args3.get("num_processes") or v3meta.get("num_processes")
    yaml_params = copy.deepcopy(workload)
    params_dict = {k: str(workload[k.split(".", 1)[0]][k.split(".", 1)[1]]) for k in override_keys}
    config_name = "%s_%s" % (MODEL, ACCELERATOR) if command == "run" else "%s_datagen" % MODEL
    return {
        "args": args,
        "debug": False,
        "run_datetime": ts,
        "run_number": 0,
        "runtime": v3meta.get("runtime", 0),
        "verification": "closed",
        "command_output_files": [{"command": "dlio_benchmark workload=%s" % config_name,
                                  "stdout": os.path.join(run_dir_abs, "training_%s.stdout.log" % command),
                                  "stderr": os.path.join(run_dir_abs, "training_%s.stderr.log" % command)}],
        "run_result_output": run_dir_abs,
        "config_path": "/opt/storage/configs/dlio/workload",
        "config_file": config_name + ".yaml",
        "config_name": config_name,
        "yaml_params": yaml_params,
        "params_dict": params_dict,
        "combined_params": copy.deepcopy(workload),
        "per_host_mem_kB": None,
        "total_mem_kB": None,
        "cluster_information": None,
        "benchmark_type": "training",
    }


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _write_leaf(dest_root, v3_dir, command, edition):
    v3meta = load_json(glob.glob(os.path.join(v3_dir, "*_metadata.json"))[0])
    ts = os.path.basename(v3_dir)
    rel = os.path.join("training", MODEL, command, ts)
    leaf = os.path.join(dest_root, rel)
    run_dir_abs = os.path.join(RESULTS_DIR, rel)
    ref = _reference_workload(edition, MODEL, ACCELERATOR)
    train = command == "run"
    workload = _workload(v3meta["parameters"], ref, train=train, generate=not train)
    keys = ["dataset.num_files_train", "dataset.num_subfolders_train"]
    if train and "read_threads" in workload.get("reader", {}):
        keys.append("reader.read_threads")
    keys.append("dataset.data_folder")
    os.makedirs(os.path.join(leaf, "dlio_config"))
    _write(os.path.join(leaf, "dlio_config", "config.yaml"), yaml.safe_dump({"workload": workload}, sort_keys=False))
    _write(os.path.join(leaf, "dlio_config", "overrides.yaml"),
           yaml.safe_dump(_overrides(run_dir_abs, workload, keys), sort_keys=False))
    _write(os.path.join(leaf, "dlio_config", "hydra.yaml"),
           yaml.safe_dump({"hydra": {"run": {"dir": run_dir_abs}, "output_subdir": "dlio_config",
                                     "job": {"name": "dlio_benchmark"}}}, sort_keys=False))
    meta = _v20_metadata(v3meta, command, ts, run_dir_abs, workload, keys)
    _write(os.path.join(leaf, "training_%s_metadata.json" % ts), json.dumps(meta, indent=2))
    _write(os.path.join(leaf, "training_%s.stdout.log" % command), "Starting benchmark run %s\n" % ts)
    _write(os.path.join(leaf, "training_%s.stderr.log" % command), "")
    _write(os.path.join(leaf, "dlio.log"), "[INFO] Running DLIO with %d process(es)\n"
           % (meta["args"].get("num_accelerators") or meta["args"].get("num_processes") or 1))
    if train:
        shutil.copyfile(os.path.join(v3_dir, "summary.json"), os.path.join(leaf, "summary.json"))
        epochs = sorted(glob.glob(os.path.join(v3_dir, "*per_epoch_stats.json")))
        shutil.copyfile(epochs[0], os.path.join(leaf, "per_epoch_stats.json"))
    return leaf


def build_v20_training_tree(dest):
    """Write the v2.0 tree under dest (one datagen leaf, the six runs of the corpus result) and return dest."""
    require_corpus()
    edition = load_edition("2.0")
    src = os.path.join(CORPUS, ALLUXIO_T)
    for command in ("datagen", "run"):
        for v3_dir in sorted(glob.glob(os.path.join(src, command, "2*"))):
            _write_leaf(str(dest), v3_dir, command, edition)
    return str(dest)


def run_dirs(root):
    return sorted(glob.glob(os.path.join(root, "training", MODEL, "run", "2*")))
