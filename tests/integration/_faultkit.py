# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pieces of the integration tests: run the training playbook with tiny sizing, read what it left, find the
processes a run started, make the stand-in environments of the replay tests."""
import glob
import hashlib
import json
import os
import re
import signal
import subprocess
import sys

import pytest

from _testpaths import REPO
from harness.waiting import wait_for  # noqa: F401  (the fault tests import it from here)

VENV = "/var/tmp/mlperf-storage/venv"  # the embedded environment; on a shared filesystem every host sees it

TINY = {
    "mlperf_edition": "3.0", "mlperf_division": "open", "mlperf_org": "faults", "mlperf_system": "ns",
    "mlperf_model": "unet3d", "mlperf_accelerator": "b200", "mlperf_accelerators_per_host": 1,
    "mlperf_allow_invalid": True, "mlperf_env_profile": "embedded", "mlperf_runs": 1,
    "mlperf_params": {"dataset.num_files_train": 24, "dataset.record_length_bytes": 65536,
                      "dataset.record_length_bytes_stdev": 0, "dataset.record_length_bytes_resize": 65536},
    "python_env_dir": VENV, "training_progress_interval": 2,
}


def playbook_bin():
    path = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.access(path, os.X_OK):
        pytest.skip("ansible-playbook not found next to %s" % sys.executable)
    return path


def training_argv(inventory, extra, playbook="playbooks/run_training.yml"):
    return [playbook_bin(), "-i", inventory, os.path.join(REPO, playbook), "-e", json.dumps(extra)]


def playbook_env(tmp_path, async_dir=None):
    """``async_dir``: where async job files go on every host; a non-root remote user needs one it can write."""
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                ANSIBLE_FORCE_COLOR="0", ANSIBLE_ASYNC_DIR=async_dir or str(tmp_path / "async"))


def start_playbook(tmp_path, inventory, extra, log_name, async_dir=None):
    log = open(tmp_path / (log_name + ".log"), "w")
    # a session of its own: finish() can end the playbook's forked workers too (a controller killed mid-task
    # leaves them blocked on its result pipe)
    proc = subprocess.Popen(training_argv(inventory, extra), cwd=REPO, env=playbook_env(tmp_path, async_dir),
                            stdout=log, stderr=subprocess.STDOUT, universal_newlines=True, start_new_session=True)
    proc.log_path = str(tmp_path / (log_name + ".log"))
    return proc


def finish(proc, timeout=600):
    """The playbook's output once it ended; a playbook still running after ``timeout`` s fails the test with the end
    of its output (where it hung). Its workers are ended either way; engines and samplers it started run in
    sessions of their own and are left to the test's checks."""
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
    with open(proc.log_path) as handle:
        out = handle.read()
    if timed_out:
        pytest.fail("the playbook did not end within %d s; the end of its output:\n%s" % (timeout, out[-8000:]))
    return out


def run_training(tmp_path, inventory, extra, log_name, timeout=600, async_dir=None):
    return finish(start_playbook(tmp_path, inventory, extra, log_name, async_dir), timeout)


def recap(out):
    return dict((m.group(1), m.group(0)) for m in re.finditer(r"^(\S+)\s+: ok=.*$", out, re.M))


def run_dirs(results, kind="run"):
    return sorted(glob.glob(os.path.join(results, "open", "faults", "results", "ns", "training", "unet3d", kind, "*")))


def tree_digest(root):
    digest = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                digest[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return digest


def check_manifest(leaf):
    """Every file listed in CHECKSUMS.sha256 has that sha256; returns the listed names."""
    listed = {}
    with open(os.path.join(leaf, "CHECKSUMS.sha256")) as handle:
        for line in handle:
            digest, name = line.rstrip("\n").split(None, 1)
            listed[name.lstrip("*")] = digest
    for name, digest in listed.items():
        with open(os.path.join(leaf, name), "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == digest, "%s/%s does not match its checksum" % (
                leaf, name)
    return listed


def metadata(leaf):
    [path] = glob.glob(os.path.join(leaf, "training_*_metadata.json"))
    with open(path) as handle:
        return json.load(handle)


def engine_processes(marker):
    """Pids on this machine (all namespaces share the pid view from here) whose command line carries marker."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as handle:
                cmd = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        # not this test process itself (pytest's temp paths carry the marker too, so match the pid, not a name)
        if marker in cmd and int(name) != os.getpid():
            found.append((int(name), cmd[:160]))
    return found


def identity_processes(run_id, netns=None):
    """Pids whose environment carries the run's identity (MLPERF_STORAGE_RUN_ID), optionally only those in the
    network namespace ``netns`` (a test host)."""
    wanted = ("MLPERF_STORAGE_RUN_ID=%s" % run_id).encode()
    inside = None
    if netns is not None:
        out = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout
        inside = set(int(p) for p in out.split() if p.isdigit())
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or (inside is not None and int(name) not in inside):
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as handle:
                entries = handle.read().split(b"\0")
        except OSError:
            continue
        if wanted in entries:
            found.append(int(name))
    return found


def standin_venv(env):
    """A venv at ``env`` (no pip) whose only distribution is the stand-in's record, the one package the replay
    locks pin; the caller puts the stand-in's launcher in it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = env / "lib" / ("python%d.%d" % sys.version_info[:2]) / "site-packages"
    record = site / "mlperf_replay_standin-1.0.dist-info"
    record.mkdir(parents=True)
    (record / "METADATA").write_text("Metadata-Version: 2.1\nName: mlperf-replay-standin\nVersion: 1.0\n")
    return env


def assert_refused_up_front(result, out, results_dir, *messages):
    """The play failed, saying each of ``messages`` and without a traceback, before it made anything in
    ``results_dir``."""
    assert result.rc != 0 and "Traceback" not in out
    for message in messages:
        assert message in out, out[-4000:]
    assert not any(results_dir.iterdir())
