# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as users get it: built with ansible-galaxy, installed into a path, used by FQCN.

No checkout ansible.cfg is involved: the installed copy alone must resolve its playbooks, roles, modules and
plugins, and every module and plugin must document itself well enough for ansible-doc to render it.
"""
import glob
import os
import subprocess
import sys

import pytest

from _testpaths import CORPUS, REPO

BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("galaxy")
    build = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path",
                            str(base), REPO], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    tarball = glob.glob(str(base / "mlperf-storage-*.tar.gz"))
    assert len(tarball) == 1
    path = base / "collections"
    # --force and a neutral cwd: the checkout's ansible.cfg would show the collection as installed already
    install = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "-p",
                              str(path), tarball[0]], capture_output=True, text=True, cwd=str(base))
    assert install.returncode == 0, install.stderr
    root = path / "ansible_collections" / "mlperf" / "storage"
    assert (root / "playbooks" / "run_training.yml").exists()
    assert not (root / ".collections").exists() and not (root / ".venv").exists()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(path), ANSIBLE_CONFIG=str(base / "ansible.cfg"))
    (base / "ansible.cfg").write_text("[defaults]\ninterpreter_python = auto_silent\n")
    return {"root": root, "env": env, "base": base}


def test_fqcn_preflight_playbook_runs_from_the_installed_collection(installed, tmp_path):
    inventory = tmp_path / "hosts.yml"
    for name in ("results", "work"):  # separate directories: the config role refuses nested ones
        (tmp_path / name).mkdir()
    inventory.write_text(
        "clients:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: %s\n  vars:\n    mlperf_results_dir: %s\n    mlperf_data_dir: %s\n"
        "    mlperf_work_dir: %s\n" % (sys.executable, tmp_path / "results", tmp_path / "missing-data",
                                     tmp_path / "work"))
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "mlperf.storage.preflight", "-i", str(inventory),
                           "--check"], capture_output=True, text=True, env=installed["env"], cwd=str(tmp_path))
    out = proc.stdout + proc.stderr
    # the roles of the installed collection ran and found the missing data dir (a real finding, not a crash)
    assert "mlperf.storage.preflight : Report every problem" in out, out[-2000:]
    assert "mlperf_data_dir %s does not exist" % (tmp_path / "missing-data") in out
    assert proc.returncode != 0 and "Traceback" not in out


def test_fqcn_verify_playbook_on_a_published_result(installed, tmp_path):
    tree = os.path.join(CORPUS, "closed", "NewFW", "results")
    if not os.path.isdir(tree):
        pytest.skip("the published results corpus is not at %s" % CORPUS)
    report = tmp_path / "report.json"
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "mlperf.storage.verify",
                           "-e", "verify_results_dir=%s" % os.path.join(tree, "Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC",
                                                                      "training"),
                           "-e", "verify_report=%s" % report], capture_output=True, text=True,
                          env=installed["env"], cwd=str(tmp_path))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert report.exists() and '"CLOSED"' in report.read_text()


def test_every_module_and_plugin_renders_in_ansible_doc(installed):
    root = installed["root"]
    checked = 0
    for kind, folder in (("module", "modules"), ("callback", "callback"), ("filter", "filter")):
        for path in sorted(glob.glob(str(root / "plugins" / folder / "*.py"))):
            name = os.path.splitext(os.path.basename(path))[0]
            if name.startswith("_"):
                continue
            proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", kind, "mlperf.storage." + name],
                                  capture_output=True, text=True, env=installed["env"])
            assert proc.returncode == 0 and "mlperf.storage." + name in proc.stdout, (name, proc.stderr[-1500:])
            assert "[WARNING]" not in proc.stderr, (name, proc.stderr)
            checked += 1
    assert checked >= 15
