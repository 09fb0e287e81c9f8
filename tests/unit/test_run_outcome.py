# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why a run phase is incomplete and the message it fails with (run_phase's last two decisions), in Python and
through the role's own tasks under ansible-playbook."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.mlperf.storage.plugins.filter.phase_failure_message import phase_failure_message
from ansible_collections.mlperf.storage.plugins.filter.run_problems import run_problems
from ansible_collections.mlperf.storage.plugins.plugin_utils._run_outcome import failure_message, incomplete_reasons

from _testpaths import REPO

DONE = {"finished": True, "changed": False, "status": {"rc": 0, "ended_by": "exit", "duration_seconds": 41.2}}
ENOSPC = "[Errno 28] No space left on device: '/results/training/unet3d/run/20261201_100000/x'"
MISSING = "engine status missing: it did not end within the wait (see training_run.stderr.log)"


def reasons(final=DONE, **kwargs):
    return incomplete_reasons(final, "training", "run", **kwargs)


def message(problems, metadata=None, checksums=None):
    return failure_message(problems, "run 2/5", "/results/run/20261201_100000", "node1", "training", "run",
                           "/results", "/srv/collected", metadata=metadata, checksums=checksums)


TAIL = ("The run directory /results/run/20261201_100000 on node1 is kept, marked incomplete in its metadata; "
        "see training_run.stderr.log there.")
FULL = ("The results filesystem is full (/results on node1 or /srv/collected on the controller): free space "
        "there and run again. ")


# --- incomplete_reasons: each reason alone ---

def test_a_completed_run_has_no_reason():
    assert reasons() == []
    assert reasons(lost_hosts=[], telemetry_copy={"changed": False, "skipped": True}) == []


def test_the_failure_of_the_engine_block_comes_as_it_is():
    assert reasons(failure="task 'Wait for run 2/5' failed: lost client(s) node3") == [
        "task 'Wait for run 2/5' failed: lost client(s) node3"]
    # an empty message is still a failure (the fact was set)
    assert reasons(failure="") == [""]


def test_a_nonzero_exit_names_how_the_engine_ended():
    final = {"finished": True, "status": {"rc": 137, "ended_by": "killed"}}
    assert reasons(final) == ["engine ended by killed with exit code 137"]


def test_the_engine_error_follows_its_exit_code():
    final = {"finished": True, "status": {"rc": 124, "ended_by": "timeout", "error": "ran past 3600 s"}}
    assert reasons(final) == ["engine ended by timeout with exit code 124: ran past 3600 s"]


def test_a_missing_status_points_to_the_engine_log():
    assert reasons({"finished": False, "status": {}}) == [MISSING]
    # the read itself failed (launcher unreachable): no status, not finished
    assert reasons({"failed": True, "msg": "timed out"}) == [MISSING]
    assert incomplete_reasons(None, "kv_cache", "datagen") == [
        "engine status missing: it did not end within the wait (see kv_cache_datagen.stderr.log)"]


def test_lost_clients_are_named_in_order():
    assert reasons(lost_hosts=["node3"]) == ["clients unreachable: node3"]
    assert reasons(lost_hosts=["node3", "node1"]) == ["clients unreachable: node3, node1"]


def test_a_telemetry_collection_error_is_reported():
    assert reasons(telemetry_error="sampler on node2 ended early") == [
        "collecting telemetry failed: sampler on node2 ended early"]


def test_failed_telemetry_copies_give_their_messages():
    copy = {"failed": True, "changed": True, "results": [
        {"item": "telemetry", "changed": True},
        {"item": "telemetry", "failed": False, "changed": True},
        {"item": "training_x_timeseries.json", "failed": True, "msg": "could not find src"},
        {"item": "more", "failed": True, "msg": ENOSPC}]}
    assert reasons(telemetry_copy=copy) == [
        "copying telemetry into the run directory failed: could not find src; " + ENOSPC]


def test_a_telemetry_copy_that_did_not_fail_is_no_reason():
    copy = {"changed": True, "results": [{"changed": True}, {"changed": True}]}
    assert reasons(telemetry_copy=copy) == []
    assert reasons(telemetry_copy={"failed": False, "results": [{"failed": True, "msg": "x"}]}) == []


def test_a_telemetry_copy_that_failed_as_a_whole_gives_its_own_message():
    assert reasons(telemetry_copy={"failed": True, "msg": "the loop could not be templated"}) == [
        "copying telemetry into the run directory failed: the loop could not be templated"]


# --- incomplete_reasons: together ---

def test_every_reason_together_in_order():
    final = {"finished": False, "status": {"rc": 1, "ended_by": "signal", "error": "SIGTERM"}}
    copy = {"failed": True, "results": [{"failed": True, "msg": "disk"}]}
    assert reasons(final, failure="task 'Start the engine (run 2/5)' failed: no mpirun",
                   lost_hosts=["node3"], telemetry_error="gone", telemetry_copy=copy) == [
        "task 'Start the engine (run 2/5)' failed: no mpirun",
        "engine ended by signal with exit code 1: SIGTERM",
        MISSING,
        "clients unreachable: node3",
        "collecting telemetry failed: gone",
        "copying telemetry into the run directory failed: disk"]


def test_the_filter_is_the_same_decision():
    final = {"finished": True, "status": {"rc": 2, "ended_by": "exit"}}
    assert run_problems(final, "training", "run", lost_hosts=["node2"]) == reasons(final, lost_hosts=["node2"])


# --- failure_message ---

def test_the_message_joins_the_problems_and_says_where_the_run_is():
    assert message(["engine ended by exit with exit code 1", "clients unreachable: node3"]) == (
        "run 2/5 failed: engine ended by exit with exit code 1; clients unreachable: node3. \n\n" + TAIL)


def test_a_full_filesystem_in_a_problem_is_named():
    text = message(["copying telemetry into the run directory failed: " + ENOSPC])
    assert text == ("run 2/5 failed: copying telemetry into the run directory failed: %s. %s\n\n%s"
                    % (ENOSPC, FULL, TAIL))


def test_a_full_filesystem_in_the_metadata_write_is_named_with_the_failed_write():
    text = message(["engine ended by exit with exit code 1"], metadata={"failed": True, "msg": ENOSPC},
                   checksums={"changed": True, "files": 12})
    assert text == ("run 2/5 failed: engine ended by exit with exit code 1. %s\nWriting its results failed too: "
                    "%s (is the results filesystem full?). \n%s" % (FULL, ENOSPC, TAIL))


def test_a_full_filesystem_in_the_checksum_message_is_named():
    text = message(["x"], metadata={"changed": True, "dest": "/results/m.json"},
                   checksums={"failed": True, "msg": "cannot write CHECKSUMS.sha256: " + ENOSPC})
    assert text == ("run 2/5 failed: x. %s\nWriting its results failed too: cannot write CHECKSUMS.sha256: %s "
                    "(is the results filesystem full?). \n%s" % (FULL, ENOSPC, TAIL))


def test_a_full_filesystem_in_a_successful_write_message_is_still_named():
    # the search covers the messages whatever the task's outcome, as the role always did
    text = message(["x"], checksums={"changed": True, "msg": "sealed; warning: No space left on device"})
    assert FULL in text and "Writing its results failed too" not in text


def test_no_full_filesystem_when_no_message_says_so():
    text = message(["engine ended by exit with exit code 1"], metadata={"failed": True, "msg": "Permission denied"})
    assert "filesystem is full (" not in text
    assert text == ("run 2/5 failed: engine ended by exit with exit code 1. \nWriting its results failed too: "
                    "Permission denied (is the results filesystem full?). \n" + TAIL)


def test_both_writes_failed_give_both_messages_and_empty_ones_are_left_out():
    text = message(["x"], metadata={"failed": True, "msg": "a"}, checksums={"failed": True, "msg": "b"})
    assert "Writing its results failed too: a; b (is the results filesystem full?). " in text
    text = message(["x"], metadata={"failed": True}, checksums={"failed": True, "msg": "b"})
    assert "Writing its results failed too: b (is the results filesystem full?). " in text


def test_writes_that_did_not_fail_or_did_not_run_are_not_mentioned():
    for metadata, checksums in ((None, None), ({"changed": True}, {"changed": True, "msg": "sealed"}),
                                ({"failed": False, "msg": "ok"}, None)):
        assert message(["x"], metadata, checksums) == "run 2/5 failed: x. \n\n" + TAIL


def test_the_message_filter_is_the_same_text():
    args = (["y"], "datagen", "/r/d", "node1", "kv_cache", "datagen")
    assert phase_failure_message(*args, results_dir="/r", controller_results_dir="/c",
                                 metadata={"failed": True, "msg": ENOSPC}) == failure_message(
        *args, "/r", "/c", metadata={"failed": True, "msg": ENOSPC})


# --- the role's own tasks, through Ansible ---

def _role_task(tasks, name):
    for task in tasks:
        if task.get("name", "").startswith(name):
            return task
        for part in ("block", "rescue", "always"):
            found = _role_task(task.get(part, []), name) if part in task else None
            if found:
                return found
    return None


def test_the_role_tasks_decide_through_the_filters(tmp_path):
    """The two run_phase tasks as the role has them, fed registered results as a failed run leaves them."""
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(playbook):
        pytest.skip("ansible-core is not installed next to %s" % sys.executable)
    with open(os.path.join(REPO, "roles", "run_phase", "tasks", "main.yml")) as handle:
        tasks = yaml.safe_load(handle)
    say_why = dict(_role_task(tasks, "Say why the run is incomplete"))
    fail = dict(_role_task(tasks, "Fail when the phase did not complete"), register="phase", ignore_errors=True)
    assert say_why and fail
    final = {"finished": True, "status": {"rc": 1, "ended_by": "exit", "error": "mpirun exited"}}
    copy = {"failed": True, "results": [{"failed": True, "msg": ENOSPC}, {"changed": True}]}
    metadata = {"failed": True, "msg": ENOSPC}
    checksums = {"changed": True, "files": 4}
    # run_phase_failure and run_phase_telemetry_error are left unset, as on a run whose tasks did not fail
    play_vars = {"run_phase_final": final, "run_phase_benchmark": "training", "run_phase_command": "run",
                 "run_phase_lost_hosts": ["node3"], "run_phase_telemetry_copy": copy,
                 "run_phase_label": "run 1/1", "run_phase_leaf": {"path": "/results/run/20261201_100000"},
                 "mlperf_launcher_host": "localhost", "mlperf_results_dir": "/results",
                 "mlperf_controller_results_dir": "/srv/collected",
                 # as mlperf.storage.run_seal returns each step's outcome
                 "run_phase_seal": {"changed": True, "metadata": metadata, "checksums": checksums}}
    out_file = tmp_path / "outcome.json"
    keep = {"name": "Keep what was decided", "ansible.builtin.copy": {
        "content": "{{ {'problems': run_phase_problems, 'message': phase.msg} | to_json }}",
        "dest": str(out_file), "mode": "0644"}}
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{
        "name": "outcome", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": play_vars, "tasks": [say_why, fail, keep]}], sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    proc = subprocess.run([playbook, "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % sys.executable,
                           str(tmp_path / "play.yml")], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    outcome = json.loads(out_file.read_text())
    expected = incomplete_reasons(final, "training", "run", lost_hosts=["node3"], telemetry_copy=copy)
    assert outcome["problems"] == expected == [
        "engine ended by exit with exit code 1: mpirun exited", "clients unreachable: node3",
        "copying telemetry into the run directory failed: " + ENOSPC]
    assert outcome["message"] == failure_message(expected, "run 1/1", "/results/run/20261201_100000", "localhost",
                                                 "training", "run", "/results", "/srv/collected",
                                                 metadata=metadata, checksums=checksums)
    assert outcome["message"].startswith("run 1/1 failed: engine ended by exit with exit code 1: mpirun exited; ")
    assert "The results filesystem is full (/results on localhost or /srv/collected on the controller)" in \
        outcome["message"]
