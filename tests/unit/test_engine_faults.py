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


def test_stop_engine_kills_the_group_and_processes_carrying_the_run_dir(tmp_path):
    run_dir = str(tmp_path / "run" / "20261123_101524")
    leader = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    # a "rank" outside the group, recognisable only by the run dir on its command line (ignores SIGTERM)
    rank = subprocess.Popen([sys.executable, "-c", "import signal, time, sys; signal.signal(signal.SIGTERM, "
                             "signal.SIG_IGN); time.sleep(60)", "++hydra.run.dir=%s" % run_dir])
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(tmp_path / "other")])
    pid_file = tmp_path / "engine.pid"
    _engine.write_json_atomic(str(pid_file), {"pid": leader.pid, "pgid": leader.pid})
    try:
        time.sleep(0.3)
        found = _engine.stop_engine(pid_path=str(pid_file), match=run_dir, grace=1.0)
        assert found["group"] == leader.pid
        assert found["processes"] == [rank.pid] and found["killed"] == [rank.pid]
        assert leader.wait(timeout=5) is not None and rank.wait(timeout=5) is not None
        assert bystander.poll() is None
    finally:
        for proc in (leader, rank, bystander):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_nothing_to_stop_is_not_an_error(tmp_path):
    found = _engine.stop_engine(pid_path=str(tmp_path / "gone.pid"), match=str(tmp_path / "never-ran"), grace=0.5)
    assert found == {"group": None, "processes": [], "killed": []}


def test_processes_matching_never_returns_this_process(tmp_path):
    token = str(tmp_path / "marker-in-argv")
    sys.argv.append(token)
    try:
        assert os.getpid() not in _engine.processes_matching(token)
    finally:
        sys.argv.remove(token)


def test_a_peer_counts_lost_only_after_staying_unreachable(tmp_path):
    state = str(tmp_path / "peers.json")
    down = {"node3"}

    def probe(host, port, timeout):
        return (False, "connection to port 22 timed out") if host in down else (True, "")

    assert _engine.lost_peers(["node2", "node3"], state, 20, now=1000.0, probe=probe) == {}
    assert _engine.lost_peers(["node2", "node3"], state, 20, now=1010.0, probe=probe) == {}
    lost = _engine.lost_peers(["node2", "node3"], state, 20, now=1021.0, probe=probe)
    assert list(lost) == ["node3"] and "timed out for 21 s" in lost["node3"]
    down.clear()  # back before the limit: the clock starts again
    assert _engine.lost_peers(["node2", "node3"], state, 20, now=1022.0, probe=probe) == {}
    down.add("node3")
    assert _engine.lost_peers(["node2", "node3"], state, 20, now=1030.0, probe=probe) == {}


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
        assert wait_until(lambda: pid_file.exists(), 10)
        holder["found"] = _engine.stop_engine(pid_path=str(pid_file), grace=1.0)

    killer = threading.Thread(target=kill_soon)
    killer.start()
    result = _engine.run_engine([sys.executable, "-c", "import time; time.sleep(60)"], str(tmp_path / "o"),
                                str(tmp_path / "e"), str(tmp_path / "s.json"), pid_path=str(pid_file))
    killer.join()
    assert holder["found"]["group"] == result["pid"]
    assert result["ended_by"] == "killed" and result["rc"] < 0


def wait_until(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
