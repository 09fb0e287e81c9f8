# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Engine fault handling on one host: the controller's heartbeat, stray-process cleanup, lost peers."""
import os
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _engine
from harness.waiting import wait_for

pytestmark = pytest.mark.reliability


def test_engine_stops_itself_when_the_controller_stops_polling(tmp_path):
    beat = tmp_path / "hb"
    started = time.time()
    result = _engine.run_engine([sys.executable, "-c", "import time; time.sleep(60)"], str(tmp_path / "o"),
                                str(tmp_path / "e"), str(tmp_path / "s.json"), heartbeat_path=str(beat),
                                heartbeat_timeout=1.5)
    assert result["ended_by"] == "controller-lost" and result["rc"] != 0
    assert "no progress poll from the controller" in result["error"]
    assert time.time() - started < 15


def test_a_polled_engine_runs_to_its_end(tmp_path):
    beat = tmp_path / "hb"
    stop = threading.Event()

    def poll():  # what engine_wait does on every call
        while not stop.is_set():
            if beat.exists():
                _engine.touch(str(beat))
            time.sleep(0.3)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        result = _engine.run_engine([sys.executable, "-c", "import time; time.sleep(3)"], str(tmp_path / "o"),
                                    str(tmp_path / "e"), str(tmp_path / "s.json"), heartbeat_path=str(beat),
                                    heartbeat_timeout=1.5)
    finally:
        stop.set()
        poller.join()
    assert result["ended_by"] == "exit" and result["rc"] == 0


SLEEPER = [sys.executable, "-c", "import signal, time, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                               "time.sleep(60)"]


def _with_id(run_id):
    return dict(os.environ, **{_engine.RUN_ID_VAR: run_id}) if run_id else dict(os.environ)


def test_stop_engine_kills_only_the_processes_carrying_the_run_id(tmp_path):
    run_id = "20261123_101524-3f9c0a7d5e21b846"
    run_dir = str(tmp_path / "run" / "20261123_101524")
    leader = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True,
                              env=_with_id(run_id))
    # a "rank" outside the group that ignores SIGTERM, recognisable by the identity in its environment
    rank = subprocess.Popen(SLEEPER + ["++hydra.run.dir=%s" % run_dir], env=_with_id(run_id))
    # another playbook's live rank on the same run base, and someone following a log of this run: the old
    # command-line match would have killed both
    other_run = subprocess.Popen(SLEEPER + ["++hydra.run.dir=%s" % (tmp_path / "run" / "20261123_101530")],
                                 env=_with_id("20261123_101530-0123456789abcdef"))
    tail = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", run_dir + "/training_run.log"])
    pid_file = tmp_path / "engine.pid"
    _engine.write_json_atomic(str(pid_file), {"pid": leader.pid, "pgid": leader.pid})
    try:
        time.sleep(0.3)
        found = _engine.stop_engine(pid_path=str(pid_file), run_ids=[run_id], grace=1.0)
        assert found["group"] == leader.pid
        assert found["processes"] == sorted([leader.pid, rank.pid]) and found["killed"] == [rank.pid]
        assert leader.wait(timeout=5) is not None and rank.wait(timeout=5) is not None
        assert other_run.poll() is None and tail.poll() is None
    finally:
        for proc in (leader, rank, other_run, tail):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_pid_file_naming_a_process_of_another_run_is_not_signalled(tmp_path):
    # the pid file lies in a user-writable directory and pids are reused: the group is signalled only when its
    # leader carries the run's identity
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    pid_file = tmp_path / "engine.pid"
    _engine.write_json_atomic(str(pid_file), {"pid": stranger.pid, "pgid": stranger.pid})
    try:
        found = _engine.stop_engine(pid_path=str(pid_file), run_ids=["20261123_101524-3f9c0a7d5e21b846"], grace=0.5)
        assert found == {"group": None, "processes": [], "killed": []}
        assert stranger.poll() is None
        for bad in (-1, 0, 1, "x", None):
            _engine.write_json_atomic(str(pid_file), {"pgid": bad})
            assert _engine.owned_group(_engine.read_status(str(pid_file)), ["20261123_101524-3f9c0a7d5e21b846"]) is None
    finally:
        stranger.kill()
        stranger.wait()


def test_nothing_to_stop_is_not_an_error(tmp_path):
    found = _engine.stop_engine(pid_path=str(tmp_path / "gone.pid"), run_ids=["20261123_000000-never-ran"],
                                grace=0.5)
    assert found == {"group": None, "processes": [], "killed": []}
    # no identity, or one too short to be unique, stops nothing at all
    assert _engine.processes_carrying([]) == [] and _engine.processes_carrying(["x", ""]) == []


def test_processes_carrying_never_returns_this_process():
    run_id = "20261123_101524-00000000000000aa"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], env=_with_id(run_id))
    try:
        time.sleep(0.2)
        assert _engine.processes_carrying([run_id]) == [child.pid]
        assert _engine.run_id_of(child.pid) == run_id and _engine.run_id_of(os.getpid()) is None
    finally:
        child.kill()
        child.wait()


def test_the_engine_and_its_children_carry_the_run_id(tmp_path):
    run_id = "20261123_101524-1111222233334444"
    probe = "import os; print(os.environ.get(%r))" % _engine.RUN_ID_VAR
    result = _engine.run_engine([sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.executable, "
                                 "'-c', %r])" % probe], str(tmp_path / "o"), str(tmp_path / "e"),
                                str(tmp_path / "s.json"), run_id=run_id)
    assert result["rc"] == 0 and result["run_id"] == run_id
    assert (tmp_path / "o").read_text().strip() == run_id


def test_a_peer_counts_lost_only_after_staying_unreachable(tmp_path):
    state = str(tmp_path / "peers.json")
    down = {"node3"}

    def probe(host, port, timeout):
        return (False, "connection to port %d timed out" % port) if host in down else (True, "")

    assert _engine.lost_peers(["node2", "node3"], state, 20, now=1000.0, probe=probe) == {}
    assert _engine.lost_peers(["node2", "node3"], state, 20, now=1010.0, probe=probe) == {}
    lost = _engine.lost_peers(["node2", "node3"], state, 20, now=1021.0, probe=probe)
    assert list(lost) == ["node3"] and "timed out for 21 s" in lost["node3"]
    down.clear()  # back before the limit: the clock starts again
    assert _engine.lost_peers(["node2", "node3"], state, 20, now=1022.0, probe=probe) == {}
    down.add("node3")
    assert _engine.lost_peers(["node2", "node3"], state, 20, now=1030.0, probe=probe) == {}


def test_peers_are_probed_at_the_address_and_port_mpi_uses(tmp_path):
    state = str(tmp_path / "peers.json")
    probed = []

    def probe(host, port, timeout):
        probed.append((host, port))
        return (False, "connection to port %d timed out" % port) if host == "10.0.0.3" else (True, "")

    peers = [{"name": "ops2", "hostname": "10.0.0.2", "port": 2222},
             {"name": "ops3", "hostname": "10.0.0.3", "port": 2222}]
    assert _engine.lost_peers(peers, state, 5, now=1000.0, probe=probe) == {}
    lost = _engine.lost_peers(peers, state, 5, now=1006.0, probe=probe)
    assert probed[:2] == [("10.0.0.2", 2222), ("10.0.0.3", 2222)]
    assert list(lost) == ["ops3"] and lost["ops3"] == "at 10.0.0.3: connection to port 2222 timed out for 6 s"


def test_peer_reachable_reports_a_closed_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        ok, why = _engine.peer_reachable("127.0.0.1", port, timeout=1)
    assert not ok and ("refused" in why.lower())
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert _engine.peer_reachable("127.0.0.1", server.getsockname()[1], timeout=1) == (True, "")


def test_an_engine_killed_from_outside_is_reported_as_killed(tmp_path):
    pid_file = tmp_path / "engine.pid"
    holder = {}

    def kill_soon():
        assert wait_for(pid_file.exists, 10, 0.05)
        holder["found"] = _engine.stop_engine(pid_path=str(pid_file), run_ids=["20261123_101524-killedfromoutside"],
                                              grace=1.0)

    killer = threading.Thread(target=kill_soon)
    killer.start()
    result = _engine.run_engine([sys.executable, "-c", "import time; time.sleep(60)"], str(tmp_path / "o"),
                                str(tmp_path / "e"), str(tmp_path / "s.json"), pid_path=str(pid_file),
                                run_id="20261123_101524-killedfromoutside")
    killer.join()
    assert holder["found"]["group"] == result["pid"]
    assert result["ended_by"] == "killed" and result["rc"] < 0
