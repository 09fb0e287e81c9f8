# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""History for real: a training run records itself in the results tree (variables without secrets, hosts, run
directories, verdict, collection version), playbooks/history.yml lists it and shows the rerun command, and that
command, run as printed, runs the same benchmark again into new run directories and records a second entry."""
import json
import os
import shlex
import subprocess

import pytest

from _faultkit import TINY, playbook_bin, tree_digest
from _testpaths import REPO

pytestmark = pytest.mark.integration

INVENTORY = os.path.join(REPO, "inventories", "local")


def ansible(argv, tmp_path, name):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
               PATH=os.path.dirname(playbook_bin()) + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=1200)
    (tmp_path / (name + ".log")).write_text(proc.stdout)
    return proc.returncode, proc.stdout


def history(tmp_path, results, name, *extra):
    argv = [playbook_bin(), os.path.join(REPO, "playbooks", "history.yml"), "-e", "history_results_dir=%s" % results]
    for item in extra:
        argv += ["-e", item]
    return ansible(argv, tmp_path, name)


def records(results):
    folder = results / ".mlperf-history"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json")) if not p.name.endswith(".vars.json")]


def test_a_run_is_recorded_listed_and_rerun_from_its_entry(tmp_path, embedded_env):
    results, data, work = (tmp_path / name for name in ("results", "data", "work"))
    for path in (results, data, work):
        path.mkdir()
    extra = dict(TINY, python_env_dir=embedded_env, mlperf_results_dir=str(results), mlperf_data_dir=str(data),
                 mlperf_work_dir=str(work), training_telemetry=False, vectordb_password="hunter2")
    rc, out = ansible([playbook_bin(), "-i", INVENTORY, os.path.join(REPO, "playbooks", "run_training.yml"),
                       "-e", json.dumps(extra)], tmp_path, "first")
    assert rc == 0, out[-4000:]

    [first] = records(results)
    assert first["playbook"] == "mlperf.storage.run_training" and first["benchmark"] == "training"
    # TINY is deliberately below the rules' minimums (mlperf_allow_invalid): the verdict the verifier gave
    assert first["outcome"] == "completed" and first["verdict"] == "INVALID"
    assert first["hosts"] == ["localhost"] and first["inventory"] == [INVENTORY]
    assert first["variables"]["mlperf_params"] == TINY["mlperf_params"]
    assert first["variables"]["mlperf_results_dir"] == str(results)
    assert first["variables"]["training_telemetry"] is False
    assert first["omitted_secrets"] == ["vectordb_password"]
    assert "hunter2" not in "".join(p.read_text() for p in (results / ".mlperf-history").iterdir())
    # the run directories recorded are the ones the run wrote: a datagen and one run
    assert sorted(d.split("/")[-2] for d in first["run_dirs"]) == ["datagen", "run"]
    for rel in first["run_dirs"]:
        assert (results / rel / "CHECKSUMS.sha256").is_file(), rel
    assert first["collection_version"] not in ("", "unknown")

    rc, out = history(tmp_path, results, "list")
    assert rc == 0, out[-3000:]
    assert first["id"] in out and "mlperf.storage.run_training" in out and "2 run dir(s) on localhost" in out

    rc, out = history(tmp_path, results, "show", "history_entry=1")
    assert rc == 0, out[-3000:]
    assert "rerun: " + first["rerun"] in out
    assert "# and pass again: vectordb_password" in first["rerun"]

    # the rerun command as printed (the secret it names is passed again by hand)
    before = {rel: tree_digest(str(results / rel)) for rel in first["run_dirs"]}
    argv = shlex.split(first["rerun"].split("  #")[0]) + ["-e", "vectordb_password=hunter2"]
    assert argv[:2] == ["ansible-playbook", "mlperf.storage.run_training"]
    rc, out = ansible([playbook_bin()] + argv[1:], tmp_path, "rerun")
    assert rc == 0, out[-4000:]

    second = records(results)[-1]
    assert len(records(results)) == 2 and second["id"] != first["id"]
    assert second["variables"] == first["variables"]
    # new run directories, the dataset reused (no second datagen), the first invocation's run directories untouched
    assert [d.split("/")[-2] for d in second["run_dirs"]] == ["run"]
    assert not set(second["run_dirs"]) & set(first["run_dirs"])
    assert {rel: tree_digest(str(results / rel)) for rel in first["run_dirs"]} == before
