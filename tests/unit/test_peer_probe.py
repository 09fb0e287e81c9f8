# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""peer_probe: every peer probed by the name and port ssh really uses, all peers at once, each failure its own."""
import os
import stat

from ansible_collections.mlperf.storage.plugins.modules import peer_probe

# answers `ssh -G <name>` like OpenSSH; otherwise logs when it started and ended a connection, failing for "down"
FAKE_SSH = """#!/bin/sh
for last; do :; done
case " $* " in
  *" -G "*) printf 'hostname %s\\nport 2222\\n' "$last"; exit 0 ;;
esac
for a; do case "$a" in -o|BatchMode=*|ConnectTimeout=*|true) ;; *) host=$a ;; esac; done
echo "start $host $(date +%s.%N)" >> "$PROBE_LOG"
sleep 1.5
echo "end $host $(date +%s.%N)" >> "$PROBE_LOG"
[ "$host" = down ] && { echo "ssh: connect to host down port 2222: Connection refused" >&2; exit 255; }
exit 0
"""


def _fake_ssh(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    ssh = bindir / "ssh"
    ssh.write_text(FAKE_SSH)
    ssh.chmod(ssh.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "probe.log"
    monkeypatch.setenv("PATH", "%s%s%s" % (bindir, os.pathsep, os.environ["PATH"]))
    monkeypatch.setenv("PROBE_LOG", str(log))
    return log


def test_peers_are_probed_at_once_by_the_port_ssh_uses(tmp_path, monkeypatch, call_module):
    log = _fake_ssh(tmp_path, monkeypatch)
    peers = [{"name": "node%d" % i, "host": "localhost"} for i in range(1, 5)]
    out = call_module(peer_probe, {"peers": peers})
    assert out["all_ok"] is True and sorted(out["peers"]) == ["node1", "node2", "node3", "node4"]
    assert all(e["port"] == 2222 and e["resolves"] and e["ssh_ok"] for e in out["peers"].values()), out
    events = [line.split() for line in log.read_text().splitlines()]
    starts = [float(t) for kind, _, t in events if kind == "start"]
    ends = [float(t) for kind, _, t in events if kind == "end"]
    # every connection began before the first one ended: the probes overlapped instead of queuing
    assert len(starts) == len(ends) == 4 and max(starts) < min(ends)


def test_each_peer_keeps_its_own_failure(tmp_path, monkeypatch, call_module):
    _fake_ssh(tmp_path, monkeypatch)
    out = call_module(peer_probe, {"peers": ["localhost", "down", "no-such-host.invalid"], "ssh_args": []})
    assert out["all_ok"] is False
    assert out["peers"]["localhost"]["ssh_ok"] is True and out["peers"]["localhost"]["error"] is None
    assert out["peers"]["no-such-host.invalid"]["resolves"] is False
    assert out["peers"]["no-such-host.invalid"]["error"].startswith("name no-such-host.invalid does not resolve")
    # "down" does not resolve either here, so it is never connected to; a resolving peer that refuses says why
    out = call_module(peer_probe, {"peers": [{"name": "node9", "host": "down"}], "ssh_args": ["-p", "2222"]})
    entry = out["peers"]["node9"]
    assert entry["ssh_ok"] is False and "exited 255: ssh: connect to host down port 2222: Connection refused" in (
        entry["error"]), entry
