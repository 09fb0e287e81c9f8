# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input stops the benchmark playbooks before anything expensive starts.

Every case runs playbooks/run_training.yml or playbooks/preflight.yml for real and checks what a user sees and
what is left behind: the play fails; the message names the host or variable and the fix; no Python traceback;
no run directory appears and the files already in the results and data directories are byte-identical.

The clients get a tiny environment instead of the 2.6 GB embedded one: a venv holding only the mpich wheel
(a real mpirun) and a lock of one pin whose header names the PyPI DLIO 2.0.0 generation, so preflight
passes and the plan is reached in seconds.
"""
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from _testpaths import REPO

pytestmark = pytest.mark.integration

TRACEBACK = "Traceback (most recent call last)"
RESULTS_LOCK = ".mlperf-results.lock"
MPICH = "mpich==5.0.2"


def playbook_bin():
    path = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(path):
        pytest.skip("ansible-playbook is not installed next to %s" % sys.executable)
    return path


@pytest.fixture(scope="module")
def tiny_env(tmp_path_factory):
    """A venv with a real mpirun (the mpich wheel), its lock, and a bin dir without MPI."""
    root = tmp_path_factory.mktemp("tiny-env")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                          "--no-input", "-q", MPICH], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=600)
    if pip.returncode != 0 or not os.access(str(venv / "bin" / "mpirun"), os.X_OK):
        pytest.skip("cannot install %s into a test venv: %s" % (MPICH, pip.stdout[-500:]))
    lock = root / "tiny.lock"
    lock.write_text(
        "# mlperf.storage environment lock\n"
        "# profile: tiny-test\n"
        "# engine: dlio\n"
        "# engine_version: 2.0.0\n"
        "# engine_generation: pypi-2.0.0\n"
        "# engine_source: pypi\n"
        "# python: %d.%d\n"
        "%s\n" % (sys.version_info[0], sys.version_info[1], MPICH))
    no_mpi = root / "no-mpi-bin"
    no_mpi.mkdir()
    return {"venv": str(venv), "lock": str(lock), "mpi_bin": str(venv / "bin"), "no_mpi_bin": str(no_mpi)}


def snapshot(root):
    """{relative path: file bytes, or None for a directory} of everything below root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), str(root))] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, str(root))] = handle.read()
    return out


def seed(results, data):
    """What an earlier invocation left: a finished run directory and a generated dataset."""
    leaf = results / "closed" / "example-org" / "results" / "example-system" / "training" / "unet3d" / "run" / \
        "20261101_120000"
    leaf.mkdir(parents=True)
    (leaf / "summary.json").write_text('{"metric": {"train_au_mean_percentage": 93.1}}\n')
    (leaf / "training_20261101_120000_metadata.json").write_text('{"command": "run"}\n')
    (data / "unet3d" / "train").mkdir(parents=True)
    (data / "unet3d" / "train" / "img_1_of_2.npz").write_bytes(os.urandom(4096))
    (data / "unet3d" / ".mlperf-dataset.json").write_text('{"train_files": 1}\n')


@pytest.fixture
def dirs(tmp_path):
    out = {name: tmp_path / name for name in ("results", "data", "work")}
    for path in out.values():
        path.mkdir()
    seed(out["results"], out["data"])
    return out


def base_vars(tiny_env, dirs):
    return {
        "mlperf_edition": "3.0", "mlperf_division": "closed", "mlperf_model": "unet3d", "mlperf_accelerator": "b200",
        "mlperf_accelerators_per_host": 1, "mlperf_results_dir": str(dirs["results"]),
        "mlperf_data_dir": str(dirs["data"]), "mlperf_work_dir": str(dirs["work"]),
        "python_env_dir": tiny_env["venv"], "python_env_lock_file": tiny_env["lock"],
        "mpi_bin_dir": tiny_env["mpi_bin"],
    }


def localhost_inventory(tmp_path, group_vars, clients=("localhost",)):
    hosts = {h: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable} for h in clients}
    inventory = {"all": {"vars": group_vars, "children": {"clients": {"hosts": hosts or None}}}}
    if not clients:  # the controller is still in the inventory, just not a client
        inventory["all"]["hosts"] = {"localhost": {"ansible_connection": "local",
                                                   "ansible_python_interpreter": sys.executable}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def run_playbook(tmp_path, playbook, inventory, extra_vars=None, check=False):
    argv = [playbook_bin(), "-i", inventory, os.path.join(REPO, "playbooks", playbook)]
    if extra_vars:
        extra = tmp_path / "extra_vars.yml"
        extra.write_text(yaml.safe_dump(extra_vars))
        argv += ["-e", "@%s" % extra]
    if check:
        argv.append("--check")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"))
    proc = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    (tmp_path / ("%s.log" % playbook)).write_text(proc.stdout)
    return proc.returncode, proc.stdout


def assert_stopped_cleanly(rc, out, before, dirs, *expected):
    """The play failed, said each expected text, showed no traceback, and left results and data alone."""
    assert rc != 0, out[-3000:]
    for text in expected:
        assert text in out, "%r not in the output:\n%s" % (text, out[-4000:])
    assert TRACEBACK not in out
    for name in ("results", "data"):
        after = snapshot(dirs[name])
        # every file and directory that was there is still there, byte for byte
        assert {k: after.get(k, "<gone>") for k in before[name]} == before[name], "the %s tree changed" % name
        added = sorted(set(after) - set(before[name]))
        # nothing new but, in the results dir, the playbook's results lock (test_failed_plan_leaves_no_lock)
        assert added in ([], [RESULTS_LOCK] if name == "results" else []), "new in %s: %s" % (name, added)


def before_of(dirs):
    return {"results": snapshot(dirs["results"]), "data": snapshot(dirs["data"])}


# --- the config role's argument specs --------------------------------------------------------------------------

@pytest.mark.parametrize("bad, expected", [
    ({"mlperf_accelerators_per_host": "two"},
     "argument 'mlperf_accelerators_per_host' is of type str and we were unable to convert to int"),
    ({"mlperf_division": "secret"}, "value of mlperf_division must be one of: closed, open, whatif, got: secret"),
    ({"mlperf_params": ["dataset.num_files_train=10"]},
     "argument 'mlperf_params' is of type list and we were unable to convert to dict"),
    ({"mlperf_allow_invalid": "maybe"}, "argument 'mlperf_allow_invalid' is of type str and we were unable to "
                                        "convert to bool"),
])
def test_bad_variable_types_stop_at_the_config_role(tmp_path, tiny_env, dirs, bad, expected):
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, dict(base_vars(tiny_env, dirs), **bad))
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "Validation of arguments failed", expected)
    # stopped at the very first task: nothing was probed, planned or started
    assert "mlperf.storage.preflight" not in out and "mlperf.storage.training" not in out


@pytest.mark.parametrize("bad, expected", [
    ({"mlperf_data_dir": "data"}, ["[mlperf_data_dir] mlperf_data_dir is 'data'; give an absolute path (the same on "
                                   "every client).", "fix: set mlperf_data_dir to an absolute path"]),
    ({"mlperf_org": "my org"}, ["[mlperf_org] mlperf_org is 'my org'; use only letters, digits, '.', '_' and '-'"]),
    ({"mlperf_system": ".hidden"}, ["[mlperf_system] mlperf_system is '.hidden'; a results path segment may not "
                                    "start with '.'", "fix: choose a name that starts with a letter or digit"]),
    ({"mlperf_accelerators_per_host": 0}, ["[mlperf_accelerators_per_host] mlperf_accelerators_per_host is 0; it "
                                           "must be at least 1", "fix: set mlperf_accelerators_per_host to 1 or more"]),
    ({"mlperf_launcher": "node9"}, ["[mlperf_launcher] mlperf_launcher is 'node9', which is not in group 'clients' "
                                    "(localhost). Name one of those hosts, or leave it empty for the first."]),
    ({"mlperf_params": {"reader.read_threads": "${oc.env:THREADS}"}},
     ["[mlperf_params['reader.read_threads']] mlperf_params['reader.read_threads'] is '${oc.env:THREADS}', which "
      "contains '${'", "fix: write the value without '${', or remove reader.read_threads from mlperf_params"]),
    ({"mlperf_params": {"reader.read_threads": 0}},
     ["[mlperf_params['reader.read_threads']] mlperf_params['reader.read_threads'] is 0; DLIO needs a whole number "
      "of at least 1 (reader workers per rank)", "fix: set reader.read_threads to 1 or more"]),
    ({"mlperf_run_timeout": 0}, ["[mlperf_run_timeout] mlperf_run_timeout is 0; it must be at least 1",
                                "fix: set mlperf_run_timeout to 1 or more"]),
    ({"training_progress_interval": 0}, ["[training_progress_interval] training_progress_interval is 0; it must be "
                                         "at least 1", "fix: set training_progress_interval to 1 or more"]),
    ({"mlperf_runs": -1}, ["[mlperf_runs] mlperf_runs is -1; it must be at least 0"]),
    ({"mlperf_client_memory_gb": -4},
     ["[mlperf_client_memory_gb] mlperf_client_memory_gb is -4; it cannot be below 0"]),
])
def test_bad_values_stop_at_the_config_role(tmp_path, tiny_env, dirs, bad, expected):
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, dict(base_vars(tiny_env, dirs), **bad))
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "problem(s); nothing was started:", *expected)
    assert "mlperf.storage.preflight" not in out


@pytest.mark.parametrize("inner, outer", [("results", "data"), ("data", "results"), ("work", "data")])
def test_nested_directories_stop_at_the_config_role(tmp_path, tiny_env, dirs, inner, outer):
    nested = dirs[outer] / "nested"
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, dict(base_vars(tiny_env, dirs),
                                                   **{"mlperf_%s_dir" % inner: str(nested)}))
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "mlperf_%s_dir (%s) is inside mlperf_%s_dir (%s)" % (
        inner, nested, outer, dirs[outer]), "separate directories, neither inside the other")
    assert "mlperf.storage.preflight" not in out and not nested.exists()


def test_two_clients_with_one_mpi_host_stop_at_the_config_role(tmp_path, tiny_env, dirs):
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, base_vars(tiny_env, dirs), clients=("localhost", "twin"))
    data = yaml.safe_load(open(inventory))
    data["all"]["children"]["clients"]["hosts"]["twin"]["mlperf_mpi_host"] = "localhost"
    with open(inventory, "w") as handle:
        yaml.safe_dump(data, handle)
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "[mlperf_mpi_host] localhost and twin both reach MPI as "
                                                  "'localhost'", "fix: give each client its own mlperf_mpi_host")
    assert "mlperf.storage.preflight" not in out


def test_a_setting_only_one_client_has_names_that_client(tmp_path, tiny_env, dirs):
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, base_vars(tiny_env, dirs), clients=("localhost", "twin"))
    data = yaml.safe_load(open(inventory))
    data["all"]["children"]["clients"]["hosts"]["twin"].update(mlperf_mpi_host="127.0.0.2", mlperf_runs=-3)
    with open(inventory, "w") as handle:
        yaml.safe_dump(data, handle)
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "[mlperf_runs] twin: mlperf_runs is -3; it must be at least 0")


# --- the plan -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, expected", [
    ({"mlperf_model": "unet4d"},
     ["[mlperf_model] unknown training model 'unet4d'; allowed values are cosmoflow, flux, resnet50, retinanet, unet3d",
      "fix: set mlperf_model to one of them"]),
    ({"mlperf_accelerator": "h200"},
     ["[mlperf_accelerator] unknown accelerator 'h200'; allowed values are a100, b200, h100, mi355",
      "fix: set mlperf_accelerator to one of them"]),
    ({"mlperf_accelerator": "mi355"},
     ["[mlperf_accelerator] 'mi355' is not available for mlperf_model 'unet3d' in edition 3.0; "
      "allowed accelerators for it are a100, b200", "fix: set mlperf_accelerator to one of them"]),
    ({"mlperf_params": {"dataset.format": "npy"}},
     ["[mlperf_params] dataset.format may only be overridden in the OPEN division, and mlperf_division is closed",
      "fix: remove dataset.format from mlperf_params, or set mlperf_division: open"]),
    ({"mlperf_params": {"dataset.num_files_train": 10}},
     ["[mlperf_params] the planned run would be INVALID: dataset.num_files_train=10 is below the minimum ",
      "fix: set dataset.num_files_train to at least "]),
    ({"mlperf_runs": 3},
     ["[mlperf_runs] the planned run would be INVALID: mlperf_runs is 3: 3 training run(s) planned; edition 3.0 "
      "requires exactly 6 (1 warm-up + 5 measured) consecutive runs",
      "fix: set mlperf_runs to 0 (the edition's count, 6), or set mlperf_allow_invalid: true"]),
])
def test_plan_errors_stop_before_anything_starts(tmp_path, tiny_env, dirs, bad, expected):
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, dict(base_vars(tiny_env, dirs), **bad))
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "preflight: all 1 clients ready",
                           "problem(s); nothing was started:", *expected)
    # the engine configuration is written only after a good plan
    assert not (dirs["work"] / "dlio_workloads").exists()


def test_more_ranks_than_a_client_can_run_stop_at_the_plan(tmp_path, tiny_env, dirs):
    """Cores are known only after preflight (a warning there); the plan refuses more than 8 ranks per core."""
    cores = len(os.sched_getaffinity(0))
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, dict(base_vars(tiny_env, dirs),
                                                   mlperf_accelerators_per_host=8 * cores + 1))
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "preflight: 0 error(s), 1 warning(s) on 1 of 1 clients",
                           "The training plan has 1 problem(s); nothing was started:",
                           "[mlperf_accelerators_per_host] localhost has %d core(s); mlperf_accelerators_per_host %d "
                           "puts %d ranks on it, more than 8 per core" % (cores, 8 * cores + 1, 8 * cores + 1),
                           "fix: set mlperf_accelerators_per_host to at most %d" % (8 * cores))
    assert not (dirs["work"] / "dlio_workloads").exists()


def test_failed_plan_leaves_no_lock(tmp_path, tiny_env, dirs):
    # the plan refuses (after the lock was taken): the play's always releases it
    inventory = localhost_inventory(tmp_path, dict(base_vars(tiny_env, dirs), mlperf_runs=3,
                                                   mlperf_allow_invalid=False))
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert rc != 0 and "[mlperf_runs] the planned run would be INVALID" in out, out[-4000:]
    assert re.search(r"Hold the results directory for this playbook.*\n(changed|ok): \[localhost\]", out), out[-6000:]
    assert re.search(r"Release the results directory for the next playbook.*\n(changed|ok): \[localhost\]", out), \
        out[-6000:]
    assert not (dirs["results"] / RESULTS_LOCK).exists()


# --- preflight: directories ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("playbook, check", [("preflight.yml", True), ("run_training.yml", False)])
def test_missing_data_dir(tmp_path, tiny_env, dirs, playbook, check):
    missing = tmp_path / "no-such-data"
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, dict(base_vars(tiny_env, dirs), mlperf_data_dir=str(missing)))
    rc, out = run_playbook(tmp_path, playbook, inventory, check=check)
    assert_stopped_cleanly(rc, out, before, dirs, "Preflight found problems; nothing was started.",
                           "localhost  data_dir  error  mlperf_data_dir %s does not exist" % missing,
                           "create it (mkdir -p %s) or point mlperf_data_dir at an existing directory" % missing)
    assert not missing.exists()


def test_a_work_dir_others_can_change_is_an_error_of_preflight(tmp_path, tiny_env, dirs):
    # the engine runner reads its pid files and specs back from there, some as root
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    work = shared / "work"
    work.mkdir()
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, dict(base_vars(tiny_env, dirs), mlperf_work_dir=str(work)))
    rc, out = run_playbook(tmp_path, "preflight.yml", inventory, check=True)
    assert_stopped_cleanly(rc, out, before, dirs, "Preflight found problems; nothing was started.",
                           "localhost  work_dir-owner  error", "refusing to use %s" % work,
                           "%s is writable by others without the sticky bit" % shared)


def test_an_environment_others_can_change_is_refused_before_anything_is_installed(tmp_path, tiny_env, dirs):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    env = shared / "env"
    group_vars = dict(base_vars(tiny_env, dirs), python_env_dir=str(env))
    inventory = localhost_inventory(tmp_path, group_vars)
    # preflight (check mode) reports it with every other problem
    rc, out = run_playbook(tmp_path, "preflight.yml", inventory, check=True)
    assert rc != 0 and "localhost  env-owner  error" in out and "refusing to use %s" % env in out, out[-3000:]
    # provisioning stops before it creates or installs anything there
    book = tmp_path / "converge.yml"
    book.write_text("- hosts: clients\n  gather_facts: false\n  roles:\n"
                    "    - {role: mlperf.storage.python_env, python_env_mode: converge}\n")
    rc, out = run_playbook(tmp_path, str(book), inventory)
    assert rc != 0 and "refusing to use %s" % env in out and TRACEBACK not in out, out[-3000:]
    assert "%s is writable by others without the sticky bit" % shared in out
    assert not env.exists()


@pytest.fixture
def read_only_mount(request, tmp_path):
    """Factory: a tmpfs mounted read-only at tmp_path/<name>, holding one file; unmounted after the test.

    Root ignores permission bits, so only a read-only mount makes a directory unwritable for it.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a read-only tmpfs")
    mounted = []

    def unmount():
        for path in reversed(mounted):
            subprocess.run(["umount", "-l", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    request.addfinalizer(unmount)

    def make(name):
        path = tmp_path / name
        path.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "mlperf-ro-test", str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            pytest.skip("cannot mount a tmpfs here: %s" % proc.stdout.strip())
        mounted.append(str(path))
        (path / "existing.bin").write_bytes(os.urandom(1024))
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        return path

    return make


@pytest.mark.parametrize("which", ["data", "results"])
def test_read_only_directory(tmp_path, tiny_env, dirs, read_only_mount, which):
    ro = read_only_mount("ro-" + which)
    dirs = dict(dirs, **{which: ro})
    before = before_of(dirs)
    variable = "mlperf_%s_dir" % which
    inventory = localhost_inventory(tmp_path, dict(base_vars(tiny_env, dirs), **{variable: str(ro)}))
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "Preflight found problems; nothing was started.",
                           "%s %s is not writable: Read-only file system" % (variable, ro),
                           "make it writable for the benchmark user or remount it read-write")


def test_client_whose_python_is_broken(tmp_path, tiny_env, dirs):
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, base_vars(tiny_env, dirs))
    data = yaml.safe_load(open(inventory))
    data["all"]["children"]["clients"]["hosts"]["localhost"]["ansible_python_interpreter"] = "/nonexistent/python3"
    with open(inventory, "w") as handle:
        yaml.safe_dump(data, handle)
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "Preflight found problems; nothing was started.",
                           "reached, but gathering facts failed: ",
                           "check the Python interpreter on the host (ansible_python_interpreter) and rerun")
    assert table_rows(out, "facts") == [("localhost", "error")]


# --- the inventory ------------------------------------------------------------------------------------------------

INVENTORY_PLAY = """
- name: Check the inventory
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The clients group has hosts
      ansible.builtin.include_role:
        name: mlperf.storage.config
        tasks_from: inventory
- import_playbook: %s
"""


@pytest.mark.parametrize("clients", [(), None], ids=["empty-group", "no-group"])
def test_empty_clients_group_stops_a_play_on_localhost(tmp_path, tiny_env, dirs, clients):
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, base_vars(tiny_env, dirs), clients=())
    if clients is None:  # no 'clients' group at all
        data = yaml.safe_load(open(inventory))
        del data["all"]["children"]
        with open(inventory, "w") as handle:
            yaml.safe_dump(data, handle)
    wrapper = tmp_path / "wrapper.yml"
    wrapper.write_text(INVENTORY_PLAY % os.path.join(REPO, "playbooks", "run_training.yml"))
    rc, out = run_playbook(tmp_path, str(wrapper), inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "The inventory has no hosts in group 'clients'. Put the hosts "
                                                  "that run benchmark ranks in a group named 'clients'")


def test_empty_clients_group(tmp_path, tiny_env, dirs):
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, base_vars(tiny_env, dirs), clients=())
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "The inventory has no hosts in group 'clients'")


# --- several clients: namespace SSH hosts --------------------------------------------------------------------------

def cluster_inventory(tmp_path, cluster, group_vars, host_vars=None):
    inventory = cluster.inventory()
    group = inventory["all"]["children"]["clients"]
    group["vars"].update(group_vars)
    for host, extra in (host_vars or {}).items():
        group["hosts"][host].update(extra)
    path = tmp_path / "cluster-inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def cluster_dirs(tmp_path, cluster):
    out = {"results": tmp_path / "cluster-results", "data": cluster.data_dir, "work": tmp_path / "cluster-work"}
    out["data"] = type(tmp_path)(out["data"])
    out["results"].mkdir()
    out["work"].mkdir()
    seed(out["results"], out["data"])
    return out


def table_rows(out, check):
    """(host, level) of the preflight table rows of one check, from the first table in the output."""
    table = out[out.index("preflight: "):].split("Origin:")[0]
    rows = [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:]]
    return [(row[0], row[2]) for row in rows if len(row) > 3 and row[1] == check]


@pytest.mark.multihost
def test_mpi_missing_on_one_client(tmp_path, tiny_env, netns_hosts):
    cluster = netns_hosts(n=2, shared_data=True)
    dirs = cluster_dirs(tmp_path, cluster)
    before = before_of(dirs)
    inventory = cluster_inventory(tmp_path, cluster, base_vars(tiny_env, dirs),
                                  {"node2": {"mpi_bin_dir": tiny_env["no_mpi_bin"]}})
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(
        rc, out, before, dirs, "preflight: 1 error(s), 0 warning(s) on 1 of 2 clients",
        "MPI missing: %s/mpirun does not exist or is not executable" % tiny_env["no_mpi_bin"], "set mpi_bin_dir")
    assert table_rows(out, "mpi") == [("node2", "error")]
    leftovers = [n for n in os.listdir(str(dirs["data"])) + os.listdir(str(dirs["results"]))
                 if n.startswith(".mlperf-")]
    assert leftovers == []


@pytest.mark.multihost
def test_unreachable_client(tmp_path, tiny_env, netns_hosts):
    cluster = netns_hosts(n=2, shared_data=True)
    dirs = cluster_dirs(tmp_path, cluster)
    before = before_of(dirs)
    inventory = cluster_inventory(tmp_path, cluster, base_vars(tiny_env, dirs))
    cluster.cut("node2")
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert_stopped_cleanly(rc, out, before, dirs, "Preflight found problems; nothing was started.",
                           "unreachable: ", "check that the host is up and that the controller can SSH to it")
    assert table_rows(out, "reachable") == [("node2", "error")]
    assert "unreachable: Data could not be sent to remote host" in out
    # node2 wrote no sentinel because it was never reached: that is not a filesystem problem
    assert table_rows(out, "shared-data_dir") == []
    # node1 could not reach node2 either, and says so
    assert "cannot SSH to node2 without a prompt" in out
    leftovers = [n for n in os.listdir(str(dirs["data"])) + os.listdir(str(dirs["results"]))
                 if n.startswith(".mlperf-")]
    assert leftovers == []


def test_launcher_without_an_ssh_client_is_a_finding_not_a_crash(tmp_path):
    """peer_probe reports a missing ssh client per peer, so preflight can put it in its table."""
    path_dir = tmp_path / "bin-without-ssh"
    path_dir.mkdir()
    for directory in ("/usr/bin", "/bin"):
        for name in os.listdir(directory):
            if name != "ssh" and not os.path.lexists(str(path_dir / name)):
                os.symlink(os.path.join(directory, name), str(path_dir / name))
    env = dict(os.environ, PATH=str(path_dir), ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"))
    ansible = os.path.join(os.path.dirname(playbook_bin()), "ansible")
    proc = subprocess.run(
        [sys.executable, ansible, "localhost", "-i", "localhost,", "-c", "local", "-e",
         "ansible_python_interpreter=%s" % sys.executable, "-m", "mlperf.storage.peer_probe", "-a",
         '{"peers": ["localhost"]}'], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    result = yaml.safe_load(proc.stdout.split(" => ", 1)[1])
    assert result["all_ok"] is False
    assert result["peers"]["localhost"]["error"] == (
        "no ssh client on this host (MPI starts ranks over ssh; install openssh-client)")
    assert TRACEBACK not in proc.stdout


def test_a_tree_with_runs_of_the_same_system_and_model_stops_before_running(tmp_path, tiny_env, dirs):
    # earlier invocations' runs of this system and model in the controller's tree (the seeded one and this one):
    # the verifier would count them with the new runs as one result, so the plan says so before anything runs,
    # and touches nothing
    earlier = (dirs["results"] / "closed" / "example-org" / "results" / "example-system" / "training" / "unet3d" /
               "run" / "20261201_100000")
    earlier.mkdir(parents=True)
    (earlier / "training_20261201_100000_metadata.json").write_text(json.dumps({"complete": True}))
    before = before_of(dirs)
    inventory = localhost_inventory(tmp_path, base_vars(tiny_env, dirs))
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert rc != 0
    assert re.search(r"\[mlperf_system\] the planned run would be INVALID: the results tree already holds 2 run\(s\) "
                     r"of closed/example-org/results/example-system/training/unet3d \(1 complete, the latest "
                     r"20261201_100000\)", out), out[-5000:]
    assert "archive" in out
    assert before_of(dirs) == before
