# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX example project run the way AWX runs a job: ansible-runner in the project directory, the collection
installed into the project's collections/ from the built tarball (as project sync does from requirements.yml),
callbacks enabled from the project's ansible.cfg.

Checks the job's artifacts (verdict, results path, report page), the rules_report callback's JSON and JUnit files,
the survey's variables against the collection's argument specs, the hosts-per-run guard, and that ansible-builder
finds the collection's execution-environment dependencies.
"""
import configparser
import glob
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from _testpaths import CORPUS, REPO
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import available_editions, load_edition

ansible_runner = pytest.importorskip("ansible_runner")

pytestmark = pytest.mark.integration

BIN = os.path.dirname(sys.executable)
EXAMPLE = os.path.join(REPO, "examples", "awx_project")
SYSTEM = "Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    base = tmp_path_factory.mktemp("awx")
    build = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(base),
                            REPO], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    (tarball,) = glob.glob(str(base / "mlperf-storage-*.tar.gz"))
    proj = base / "project"
    shutil.copytree(EXAMPLE, proj)
    # what project sync does with collections/requirements.yml, from the tarball instead of Galaxy
    install = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "-p",
                              str(proj / "collections"), tarball], capture_output=True, text=True, cwd=str(base))
    assert install.returncode == 0, install.stderr
    assert (proj / "collections" / "ansible_collections" / "mlperf" / "storage" / "playbooks" / "report.yml").exists()
    return proj


def awx_envvars(proj):
    """AWX reads callbacks_enabled from the project's ansible.cfg and exports it (rules.md-independent fact)."""
    cfg = configparser.ConfigParser()
    cfg.read(str(proj / "ansible.cfg"))
    return {"ANSIBLE_CONFIG": str(proj / "ansible.cfg"),
            "ANSIBLE_CALLBACKS_ENABLED": cfg.get("defaults", "callbacks_enabled")}


def run_job(tmp_path, proj, playbook, extravars, inventory="localhost ansible_connection=local\n", cmdline=None,
            envvars=None):
    private = tmp_path / ("job-" + playbook.replace(".yml", ""))
    (private / "inventory").mkdir(parents=True)
    (private / "inventory" / "hosts").write_text(inventory)
    kwargs = {"cmdline": cmdline} if cmdline else {}
    result = ansible_runner.run(private_data_dir=str(private), project_dir=str(proj), playbook=playbook,
                                extravars=extravars, envvars=dict(awx_envvars(proj), **(envvars or {})), quiet=True,
                                **kwargs)
    stdout = result.stdout.read()
    artifacts = {}
    task_paths = []
    for event in result.events:
        data = event.get("event_data") or {}
        if event.get("event") == "playbook_on_stats":
            artifacts = data.get("artifact_data") or {}
        if event.get("event") == "playbook_on_task_start" and data.get("task_path"):
            task_paths.append(data["task_path"])
    return result, stdout, artifacts, task_paths


@pytest.fixture
def tree(tmp_path):
    src = os.path.join(CORPUS, "closed", "NewFW")
    if not os.path.isdir(src):
        pytest.skip("the published results corpus is not at %s (set MLPERF_CORPUS)" % CORPUS)
    dest = tmp_path / "results" / "closed" / "NewFW"
    shutil.copytree(src, dest)
    for dirpath, _dirs, _files in os.walk(str(dest)):  # the corpus is read-only; its copy is a job's results
        os.chmod(dirpath, 0o755)
    return dest / "results" / SYSTEM / "training"


def test_verify_job_artifacts_and_callback_files(tmp_path, project, tree):
    reports = tmp_path / "reports"  # the job's report_dir: a verify job never writes into the tree it checks
    result, out, artifacts, task_paths = run_job(tmp_path, project, "verify.yml",
                                                 {"verify_results_dir": str(tree)},
                                                 envvars={"MLPERF_RULES_REPORT_DIR": str(reports)})
    assert result.rc == 0 and result.status == "successful", out[-3000:]
    # the job ran the installed collection, not the checkout
    installed = str(project / "collections" / "ansible_collections" / "mlperf" / "storage")
    assert task_paths and all(p.startswith(installed) for p in task_paths), task_paths
    assert artifacts["mlperf_verdict"] == "CLOSED"
    assert artifacts["mlperf_results_dir"] == str(tree)
    runs = [p for p in (tree / "unet3d" / "run").iterdir() if p.is_dir()]
    assert len(artifacts["mlperf_run_ids"]) == len(runs) + 2  # runs + datagen + datasize
    # the callback enabled by the project's ansible.cfg printed the table and wrote its files to report_dir
    assert "MLPerf Storage rules verification: CLOSED" in out
    assert not (tree / "mlperf-rules-report.json").exists() and not (tree / "mlperf-rules-report.junit.xml").exists()
    report = json.loads((reports / "mlperf-rules-report.json").read_text())
    assert report["verdict"] == "CLOSED" and report["results_dir"] == str(tree)
    junit = ET.parse(str(reports / "mlperf-rules-report.junit.xml")).getroot()
    assert junit.tag == "testsuites" and int(junit.get("tests")) > 0 and junit.get("failures") == "0"


def test_report_job_writes_the_page_and_publishes_it(tmp_path, project, tree):
    org = tree.parents[2]  # closed/NewFW
    result, out, artifacts, _ = run_job(tmp_path, project, "report.yml",
                                        {"report_results_dir": str(org), "report_plots": False})
    assert result.rc == 0 and result.status == "successful", out[-3000:]
    page = org / "mlperf-report.html"
    assert artifacts["mlperf_report_html"] == str(page) and page.exists()
    assert artifacts["mlperf_report_verdict"] in ("CLOSED", "OPEN", "INVALID")
    assert '<span id="verdict" class="verdict %s big">' % artifacts["mlperf_report_verdict"] in page.read_text()
    assert (tree / "unet3d" / "run" / "results.json").exists()
    assert (org / "results" / "results.csv").exists()


def test_hosts_per_run_answer_is_checked_before_anything_runs(tmp_path, project):
    inventory = "[clients]\nlocalhost ansible_connection=local\n"
    result, out, _, _ = run_job(tmp_path, project, "run_training.yml",
                                {"mlperf_hosts_per_run": "2", "mlperf_results_dir": str(tmp_path / "r")},
                                inventory=inventory)
    assert result.rc != 0
    assert "The survey asked for 2 client host(s) per run but the job targets 1 (localhost)" in out
    assert "mlperf.storage.config" not in out and not (tmp_path / "r").exists()


def test_survey_variables_are_the_collection_inputs():
    with open(os.path.join(EXAMPLE, "survey_run_training.json")) as handle:
        survey = json.load(handle)
    with open(os.path.join(REPO, "roles", "config", "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    asked = dict((q["variable"], q) for q in survey["spec"])
    assert {"mlperf_model", "mlperf_accelerator", "mlperf_division", "mlperf_hosts_per_run"} <= set(asked)
    for name, question in asked.items():
        assert question["type"] in ("multiplechoice", "integer", "text")
        if name == "mlperf_hosts_per_run":  # checked by the project's own guard play
            continue
        assert name in options, "survey variable %s is not a mlperf.storage.config input" % name
        if "choices" in options[name]:
            assert set(question["choices"]) <= set(options[name]["choices"])
        if question.get("default") not in (None, ""):
            assert question["default"] in question.get("choices", [question["default"]])
    pairs = set((model, acc) for name in available_editions()
                for model, accs in load_edition(name).training_pairs().items() for acc in accs)
    # every offered workload and accelerator exists in some edition's training table
    assert set(asked["mlperf_model"]["choices"]) <= set(m for m, _ in pairs)
    assert set(asked["mlperf_accelerator"]["choices"]) <= set(a for _, a in pairs)


def test_execution_environment_dependencies_are_found_by_ansible_builder(project):
    builder = shutil.which("ansible-builder", path=BIN)
    if builder is None:
        pytest.skip("ansible-builder is not installed in the controller environment")
    proc = subprocess.run([builder, "introspect", "--sanitize", str(project / "collections")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "matplotlib" in proc.stdout and "mlperf.storage" in proc.stdout
    assert "ansible-core" not in proc.stdout.split("system:")[0].replace("# from collection", "")
