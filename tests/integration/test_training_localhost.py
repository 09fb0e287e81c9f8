# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The training benchmark end to end on localhost, with the real DLIO, run the way AWX runs it (ansible-runner).

Provisions the embedded environment (the real lock: DLIO 2.0.0, tensorflow-cpu, CPU torch, MPICH wheel), then runs
playbooks/run_training.yml twice into a temporary results tree and checks what a user would check: the layout, the
metadata, the engine's summary, the checksums, the verdict in the job artifacts, and that the second invocation
adds new run directories, reuses the dataset and leaves the first runs byte-for-byte intact.
"""
import json
import shutil
from datetime import datetime

import pytest

from _faultkit import tree_digest
from harness.plays import artifact_data, run_project_playbook

ansible_runner = pytest.importorskip("ansible_runner")

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


def run_playbook(tmp_path, extravars, name):
    return run_project_playbook(tmp_path, "playbooks/run_training.yml", extravars, name)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("training")
    out = {name: base / name for name in ("results", "data", "work")}
    for path in out.values():
        path.mkdir()
    return out


def test_training_end_to_end_twice(tmp_path, dirs, embedded_env):
    extravars = {
        "mlperf_results_dir": str(dirs["results"]),
        "mlperf_data_dir": str(dirs["data"]),
        "mlperf_work_dir": str(dirs["work"]),
        "mlperf_runs": 2,
        "mlperf_drop_caches": True,
        "python_env_dir": embedded_env,
    }
    first, out1 = run_playbook(tmp_path, extravars, "first")
    assert first.rc == 0, out1[-4000:]
    assert "Traceback" not in out1

    model_dir = dirs["results"] / "open" / "embedded" / "results" / "localhost" / "training" / "unet3d"
    def leaves(command):
        return sorted(p for p in (model_dir / command).iterdir() if p.is_dir())

    runs, datagens, datasizes = leaves("run"), leaves("datagen"), leaves("datasize")
    assert len(runs) == 2 and len(datagens) == 1 and len(datasizes) == 1

    # the dataset the runs read is the one the plan asked for
    train_files = sorted((dirs["data"] / "unet3d" / "train").iterdir())
    assert len(train_files) == 128
    manifest = json.loads((dirs["data"] / "unet3d" / ".mlperf-dataset.json").read_text())
    assert manifest["train_files"] == 128 and manifest["generated_by"] == str(datagens[0])

    for run in runs:
        ts = run.name
        meta = json.loads((run / ("training_%s_metadata.json" % ts)).read_text())
        summary = json.loads((run / "summary.json").read_text())
        assert meta["benchmark_type"] == "training" and meta["command"] == "run"
        assert meta["model"] == "unet3d" and meta["accelerator"] == "b200"
        assert meta["run_datetime"] == ts and meta["num_processes"] == 2
        assert meta["exit_status"] == 0 and meta["complete"] is True and meta["runtime"] > 0
        assert meta["parameters"]["dataset"]["num_files_train"] == 128
        assert meta["override_parameters"]["dataset.record_length_bytes"] == 262144
        assert meta["override_parameters"]["dataset.data_folder"] == str(dirs["data"] / "unet3d")
        assert meta["engine"]["name"] == "dlio" and meta["engine"]["generation"] == "pypi-2.0.0"
        assert meta["engine"]["version"] == "2.0.0"
        # the record-length keys were translated for DLIO 2.0.0, and the translation is on record
        assert any(t["from"] == "dataset.record_length_bytes" for t in meta["engine"]["translations"])
        assert len(meta["env_lock_hash"]) == 64
        assert meta["system_info"]["num_hosts"] == 1 and meta["system_info"]["total_memory_bytes"] > 0
        assert "dlio_benchmark" in meta["executed_command"] and str(run) in meta["executed_command"]
        assert meta["verification"] == "INVALID" and meta["allow_invalid"] is True
        assert meta["args"]["data_dir"] == str(dirs["data"])
        # the page cache was dropped on every client before the run, and the metadata says when
        assert [d["host"] for d in meta["cache_drops"]] == ["localhost"] and meta["cache_drops"][0]["ok"]
        dropped = datetime.fromisoformat(meta["cache_drops"][0]["time"].replace("Z", "+00:00"))
        assert dropped <= datetime.fromisoformat(meta["invocation_start_time"])
        # what the engine measured
        assert summary["num_files_train"] == 128 and summary["num_accelerators"] == 2
        assert len(summary["metric"]["train_throughput_samples_per_second"]) == 5
        assert summary["metric"]["train_throughput_mean_samples_per_second"] > 0
        # streamed logs and the hydra config the engine really used
        assert (run / "training_run.stdout.log").exists() and (run / "dlio.log").stat().st_size > 0
        overrides = (run / "dlio_config" / "overrides.yaml").read_text()
        assert "++workload.dataset.record_length=262144" in overrides
        # telemetry of every client around the run, referenced from the metadata
        index = json.loads((run / meta["timeseries_data"]["file"]).read_text())
        assert meta["timeseries_data"]["hosts_collected"] == ["localhost"]
        samples = (run / index["hosts"]["localhost"]["file"]).read_text().splitlines()
        assert len(samples) == meta["timeseries_data"]["num_samples"] > 0
        assert json.loads(samples[0])["phase"] == "run_" + ts
        # one sample per interval over the sampled span, within 10 %
        host = index["hosts"]["localhost"]
        span = (datetime.fromisoformat(host["end_time"].replace("Z", "+00:00"))
                - datetime.fromisoformat(host["start_time"].replace("Z", "+00:00"))).total_seconds()
        expected = span / index["collection_interval_seconds"] + 1
        assert abs(len(samples) - expected) <= 0.1 * expected, (len(samples), expected)
        assert (run / "telemetry" / "localhost_snapshot_start.json").exists()
        assert (run / "telemetry" / "localhost_snapshot_end.json").exists()
        assert meta["cluster_snapshots"]["collection_method"]
        assert not (run / "checkpoints").exists()
        # the checksum manifest covers every file and matches
        listed = {}
        for line in (run / "CHECKSUMS.sha256").read_text().splitlines():
            digest, rel = line.split("  ", 1)
            listed[rel] = digest
        assert tree_digest(str(run)).keys() - {"CHECKSUMS.sha256"} == listed.keys()
        assert all(tree_digest(str(run))[rel] == digest for rel, digest in listed.items())

    # the verdict reached the job artifacts and the reports were written next to the results
    artifacts = artifact_data(first)
    assert artifacts.get("mlperf_verdict") == "INVALID"
    assert artifacts.get("mlperf_results_dir") == str(model_dir)
    assert len(artifacts.get("mlperf_run_ids") or []) >= 2
    assert "dataset.num_files_train=128 is below the minimum" in out1

    before = tree_digest(str(dirs["results"]))
    second, out2 = run_playbook(tmp_path, extravars, "second")
    assert second.rc == 0, out2[-4000:]
    assert "Reusing the dataset" in out2
    after = tree_digest(str(dirs["results"]))
    # every file of the first invocation is still there, unchanged
    # the reports (rules report, HTML page and its figures, rollups, systems yaml) describe the whole tree and are
    # rewritten
    rewritten = ("mlperf-rules-report", "mlperf-report.html", ".mlperf-report-figures/", "results.json",
                 "results.csv", "systems/")
    unchanged = {rel: digest for rel, digest in before.items() if not any(r in rel for r in rewritten)}
    assert any("/run/" in rel and rel.endswith("summary.json") for rel in unchanged)
    assert all(after.get(rel) == digest for rel, digest in unchanged.items())
    runs2 = leaves("run")
    assert len(runs2) == 4 and runs2[:2] == runs
    assert len(leaves("datagen")) == 1  # dataset reused, not regenerated


def test_check_mode_plans_and_starts_nothing(tmp_path, dirs, embedded_env):
    results = tmp_path / "results-check"
    results.mkdir()
    extravars = {"mlperf_results_dir": str(results), "mlperf_data_dir": str(dirs["data"]),
                 "mlperf_work_dir": str(dirs["work"]), "python_env_dir": embedded_env}
    result, out = run_project_playbook(tmp_path, "playbooks/run_training.yml", extravars, "check", cmdline="--check")
    assert result.rc == 0, out[-3000:]
    assert "planned verdict: INVALID" in out
    assert list(results.iterdir()) == []
    shutil.rmtree(tmp_path / "runner-check", ignore_errors=True)


def test_an_engine_that_exits_non_zero_is_reported_and_kept(tmp_path, dirs, embedded_env):
    """mpirun refuses an option it does not know (a real engine failure, at once): the play fails with one message
    naming the exit code and the stderr log; the run directory is kept, marked incomplete, sealed; the lock is gone."""
    import re

    results = tmp_path / "results-fail"
    results.mkdir()
    extravars = {"mlperf_results_dir": str(results), "mlperf_data_dir": str(dirs["data"]),
                 "mlperf_work_dir": str(dirs["work"]), "python_env_dir": embedded_env, "mlperf_runs": 1,
                 "training_mpi_extra_args": ["-no-such-mpi-option"]}
    result, out = run_playbook(tmp_path, extravars, "engine-fails")
    assert result.rc != 0
    assert "Traceback" not in out
    failed = re.search(r"(run 1/1|datagen) failed: engine ended by exit with exit code (\d+)", out)
    assert failed and failed.group(2) != "0", out[-4000:]
    assert re.search(r"The run directory \S+ on localhost is kept, marked incomplete in its metadata; see "
                     r"training_(run|datagen)\.stderr\.log there", out), out[-4000:]
    model_dir = results / "open" / "embedded" / "results" / "localhost" / "training" / "unet3d"
    [leaf] = [p for command in ("run", "datagen") if (model_dir / command).is_dir()
              for p in (model_dir / command).iterdir()]
    command = leaf.parent.name
    meta = json.loads((leaf / ("training_%s_metadata.json" % leaf.name)).read_text())
    assert meta["complete"] is False and meta["exit_status"] not in (0, None)
    assert (leaf / "CHECKSUMS.sha256").is_file()
    assert "no-such-mpi-option" in (leaf / ("training_%s.stderr.log" % command)).read_text()
    assert not (results / ".mlperf-results.lock").exists()
