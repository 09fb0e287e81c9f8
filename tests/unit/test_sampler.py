# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The background sampler (plugins/module_utils/_sampler.py) and the proc_sampler module.

Rate arithmetic is checked on two real captures of the same VM taken around 64 MiB of direct
writes; the control loop with a fake clock; the real process for timing, stop conditions and
SIGKILL safety.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _procfs as procfs
from ansible_collections.mlperf.storage.plugins.module_utils import _sampler as sampler_mod
from ansible_collections.mlperf.storage.plugins.module_utils._sampler import Sampler, SamplerError

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COLLECTIONS = os.path.join(REPO, ".collections")
VM = os.path.join(HERE, "fixtures", "proc", "debian12-vm")


def read(machine, relative):
    with open(os.path.join(machine, relative)) as handle:
        return handle.read()


def read_jsonl(path):
    with open(path) as handle:
        raw = handle.read()
    assert raw == "" or raw.endswith("\n"), "last line of %s is incomplete" % path
    return [json.loads(line) for line in raw.splitlines()]


# --------------------------------------------------------------------------- rate arithmetic

def test_disk_rates_between_two_captures():
    before = procfs.parse_diskstats(read(VM, "proc/diskstats"))
    after = procfs.parse_diskstats(read(VM, "t1/proc/diskstats"))
    include = sampler_mod.device_filter()
    rates = sampler_mod.disk_rates(after, before, 2.0, include)
    assert set(rates) == {"vda"}  # loop and zram devices skipped by default
    vda = rates["vda"]
    sectors = after["vda"]["sectors_written"] - before["vda"]["sectors_written"]
    assert sectors * 512 >= 64 << 20  # the capture really holds the 64 MiB written
    assert vda["write_bytes_per_s"] == sectors * 512 / 2.0
    assert vda["write_iops"] == (after["vda"]["writes_completed"] - before["vda"]["writes_completed"]) / 2.0
    busy_ms = after["vda"]["time_doing_ios_ms"] - before["vda"]["time_doing_ios_ms"]
    assert vda["util_pct"] == round(busy_ms / 2000.0 * 100, 2)
    everything = sampler_mod.disk_rates(after, before, 2.0, sampler_mod.device_filter(skip_virtual=False))
    assert "loop0" in everything and "zram0" in everything
    only = sampler_mod.disk_rates(after, before, 2.0, sampler_mod.device_filter(device_regex="^zram"))
    assert set(only) == {"zram0"}


def test_disk_rates_counter_reset_gives_null_not_negative():
    old = procfs.parse_diskstats("8 0 sda 100 0 800 1 100 0 800 1 0 10 10\n")
    new = procfs.parse_diskstats("8 0 sda 5 0 40 1 200 0 1600 1 0 20 20\n")
    rates = sampler_mod.disk_rates(new, old, 1.0, lambda n: True)["sda"]
    assert rates["read_bytes_per_s"] is None and rates["read_iops"] is None
    assert rates["write_bytes_per_s"] == 800 * 512


def test_disk_util_is_capped_at_100():
    old = procfs.parse_diskstats("8 0 sda 0 0 0 0 0 0 0 0 0 0 0\n")
    new = procfs.parse_diskstats("8 0 sda 0 0 0 0 0 0 0 0 3 1500 0\n")
    rates = sampler_mod.disk_rates(new, old, 1.0, lambda n: True)["sda"]
    assert rates["util_pct"] == 100.0 and rates["in_flight"] == 3


def test_cpu_percentages_between_two_captures():
    before = procfs.parse_stat(read(VM, "proc/stat"))["cpu"]
    after = procfs.parse_stat(read(VM, "t1/proc/stat"))["cpu"]
    pct = sampler_mod.cpu_percentages(after, before)
    total = sum(after[k] - before[k] for k in after if k not in ("guest", "guest_nice"))
    assert pct["user"] == round(100.0 * (after["user"] - before["user"]) / total, 2)
    assert pct["user"] > 80  # the capture spun one CPU for a second
    assert abs(sum(pct.values()) - 100.0) < 0.1
    assert sampler_mod.cpu_percentages(after, after) is None


def test_memory_summary_and_net_rates():
    mem = sampler_mod.memory_summary(procfs.parse_meminfo(read(VM, "proc/meminfo")))
    assert mem["used"] == mem["total"] - mem["available"]
    assert set(mem) == {"total", "free", "available", "cached", "buffers", "dirty", "writeback", "used"}
    old = {"eth0": {"rx_bytes": 1000, "tx_bytes": 0}, "lo": {"rx_bytes": 0, "tx_bytes": 0}}
    new = {"eth0": {"rx_bytes": 3000, "tx_bytes": 500}, "lo": {"rx_bytes": 10, "tx_bytes": 10}, "new0": {}}
    rates = sampler_mod.net_rates(new, old, 0.5, sampler_mod.interface_filter("^eth"))
    assert rates == {"eth0": {"rx_bytes_per_s": 4000.0, "tx_bytes_per_s": 1000.0}}


# --------------------------------------------------------------------------- control loop, fake clock

class FakeClock:
    def __init__(self, stall_at=None, stall=0.0):
        self.now = 0.0
        self.stall_at = stall_at
        self.stall = stall
        self.sleeps = 0

    def clock(self):
        return self.now

    def wall(self):
        return 1_800_000_000.0 + self.now

    def sleep(self, seconds):
        self.sleeps += 1
        self.now += seconds
        if self.stall_at is not None and self.now >= self.stall_at:
            self.now += self.stall  # the host froze the sampler once
            self.stall_at = None


def fake_sampler(tmp_path, fake, **kwargs):
    kwargs.setdefault("interval", 1.0)
    kwargs.setdefault("max_duration", 10.0)
    return Sampler(path=str(tmp_path / "s.jsonl"), reader=procfs.ProcReader(VM), clock=fake.clock,
                   wall=fake.wall, sleep=fake.sleep, **kwargs)


def test_fake_clock_max_duration_counts_and_timestamps(tmp_path):
    fake = FakeClock()
    summary = fake_sampler(tmp_path, fake, label="run_1").run()
    assert summary["stop_reason"] == "max_duration"
    assert summary["samples"] == 9  # ticks 1..9; the tenth falls on the limit
    lines = read_jsonl(str(tmp_path / "s.jsonl"))
    assert [line["seq"] for line in lines] == list(range(1, 10))
    assert all(line["phase"] == "run_1" for line in lines)
    assert summary["interval_mean"] == 1.0 and summary["gaps"] == 0
    assert summary["first_timestamp"] == procfs.utc_iso(1_800_000_001.0)


def test_fake_clock_stall_is_reported_as_gap_and_missed_ticks_skipped(tmp_path):
    fake = FakeClock(stall_at=3.0, stall=4.5)
    summary = fake_sampler(tmp_path, fake, max_duration=20.0).run()
    lines = read_jsonl(str(tmp_path / "s.jsonl"))
    dts = [line["dt"] for line in lines]
    assert max(dts) == pytest.approx(5.5)  # one long interval, no burst of catch-up samples
    assert sorted(dts)[-2] == pytest.approx(1.0)
    assert summary["gaps"] == 1 and summary["gap_list"][0]["seconds"] == pytest.approx(5.5)
    assert summary["interval_max"] == pytest.approx(5.5)


def test_gap_list_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(sampler_mod, "MAX_GAPS_KEPT", 3)

    class Stalling(FakeClock):
        def sleep(self, seconds):
            self.now += seconds + 5.0  # every wait overshoots

    fake = Stalling()
    summary = fake_sampler(tmp_path, fake, max_duration=100.0).run()
    assert summary["gaps"] == summary["samples"] > 3
    assert len(summary["gap_list"]) == 3


def test_fake_clock_max_samples_and_deadline(tmp_path):
    assert fake_sampler(tmp_path, FakeClock(), max_samples=4).run()["samples"] == 4
    fake = FakeClock()
    summary = fake_sampler(tmp_path, fake, deadline=fake.wall() + 3.5).run()
    assert summary["stop_reason"] == "deadline" and summary["samples"] == 3


def test_phase_file_is_reread_every_sample(tmp_path):
    phase = tmp_path / "phase"
    fake = FakeClock()

    class Marking(FakeClock):
        def sleep(self, seconds):
            FakeClock.sleep(self, seconds)
            if self.now >= 2.5:
                phase.write_text("epoch_2\n")

    fake = Marking()
    phase.write_text("epoch_1\n")
    fake_sampler(tmp_path, fake, phase_file=str(phase), label="fallback", max_samples=4).run()
    phases = [line["phase"] for line in read_jsonl(str(tmp_path / "s.jsonl"))]
    assert phases == ["epoch_1", "epoch_1", "epoch_2", "epoch_2"]


def test_stale_stop_file_removed_and_fresh_one_honoured(tmp_path):
    stop = tmp_path / "stop"
    stop.write_text("")

    class Stopping(FakeClock):
        def sleep(self, seconds):
            FakeClock.sleep(self, seconds)
            if self.now >= 3.2:
                stop.write_text("")

    summary = fake_sampler(tmp_path, Stopping(), stop_file=str(stop)).run()
    assert summary["stop_reason"] == "stop_file" and summary["samples"] == 3


def test_watch_pid_exit_stops_sampler(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    class Killing(FakeClock):
        def sleep(self, seconds):
            FakeClock.sleep(self, seconds)
            if self.now >= 2.2 and child.poll() is None:
                child.kill()
                child.wait()

    try:
        summary = fake_sampler(tmp_path, Killing(), watch_pid=child.pid).run()
    finally:
        if child.poll() is None:
            child.kill()
    assert summary["stop_reason"] == "watched_process_exited" and summary["samples"] == 2


def test_invalid_settings_are_explained(tmp_path):
    with pytest.raises(SamplerError, match="interval must be at least 0.1"):
        Sampler(path=str(tmp_path / "x"), interval=0.05)
    with pytest.raises(SamplerError, match="max_duration must be a positive"):
        Sampler(path=str(tmp_path / "x"), max_duration=0)
    with pytest.raises(SamplerError, match="device_regex .* is not a valid regular expression"):
        Sampler(path=str(tmp_path / "x"), device_regex="(")
    with pytest.raises(SamplerError, match="output directory .* does not exist"):
        Sampler(path=str(tmp_path / "missing" / "x"), max_samples=1).run()


def test_second_sampler_on_same_file_is_refused(tmp_path):
    import fcntl
    path = tmp_path / "s.jsonl"
    with open(path, "a") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SamplerError, match="another sampler is already writing"):
            Sampler(path=str(path), max_samples=1).run()


# --------------------------------------------------------------------------- the real process

SCRIPT = """
import json, sys
sys.path.insert(0, %r)
from ansible_collections.mlperf.storage.plugins.module_utils._sampler import Sampler
kwargs = json.loads(sys.argv[1])
print(json.dumps(Sampler(**kwargs).run()))
""" % COLLECTIONS


def start_sampler(**kwargs):
    return subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(kwargs)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)


def finish(proc, timeout=30):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out)


def test_real_sampler_three_seconds_at_0_2(tmp_path):
    path = str(tmp_path / "s.jsonl")
    summary = finish(start_sampler(path=path, interval=0.2, max_duration=3.0, label="run_1"))
    expected = 3.0 / 0.2
    assert abs(summary["samples"] - expected) <= 0.1 * expected, summary
    assert summary["stop_reason"] == "max_duration"
    assert summary["interval_mean"] == pytest.approx(0.2, rel=0.1)
    lines = read_jsonl(path)
    assert len(lines) == summary["samples"]
    for line in lines:
        assert {"seq", "ts", "time", "dt", "host", "phase", "cpu", "mem", "load", "disk", "net"} <= set(line)
        assert {"user", "system", "iowait", "idle"} <= set(line["cpu"])
        assert {"used", "cached", "dirty", "writeback"} <= set(line["mem"])
        for dev in line["disk"].values():
            assert {"read_bytes_per_s", "write_bytes_per_s", "read_iops", "write_iops", "util_pct"} <= set(dev)
        assert not any(procfs.is_partition_name(d) or procfs.is_virtual_disk_name(d) for d in line["disk"])
        assert line["phase"] == "run_1"
    stamps = [line["ts"] for line in lines]
    assert stamps == sorted(stamps)


def test_real_sampler_stop_file(tmp_path):
    path = str(tmp_path / "s.jsonl")
    stop = str(tmp_path / "stop")
    pid_file = str(tmp_path / "pid")
    with open(stop, "w"):
        pass  # stale: must not stop the new sampler
    proc = start_sampler(path=path, interval=0.2, max_duration=30.0, stop_file=stop, pid_file=pid_file)
    deadline = time.time() + 10
    while not os.path.exists(pid_file) and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(stop)
    time.sleep(1.0)
    with open(stop, "w"):
        pass
    started = time.time()
    summary = finish(proc)
    assert time.time() - started < 1.5
    assert summary["stop_reason"] == "stop_file" and 3 <= summary["samples"] <= 7
    assert open(pid_file).read().strip() == str(proc.pid)  # kept after exit: "it started"


def test_real_sampler_max_samples(tmp_path):
    path = str(tmp_path / "s.jsonl")
    summary = finish(start_sampler(path=path, interval=0.1, max_duration=30.0, max_samples=7))
    assert summary["stop_reason"] == "max_samples" and summary["samples"] == 7
    assert len(read_jsonl(path)) == 7


def test_real_sampler_sigterm_returns_summary(tmp_path):
    path = str(tmp_path / "s.jsonl")
    proc = start_sampler(path=path, interval=0.1, max_duration=30.0)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    summary = finish(proc)
    assert summary["stop_reason"] == "signal" and summary["samples"] == len(read_jsonl(path)) > 0


def test_kill_9_leaves_valid_jsonl(tmp_path):
    path = str(tmp_path / "s.jsonl")
    proc = start_sampler(path=path, interval=0.1, max_duration=30.0)
    deadline = time.time() + 10
    while time.time() < deadline:
        if os.path.exists(path) and open(path).read().count("\n") >= 8:
            break
        time.sleep(0.05)
    proc.kill()
    proc.communicate()
    lines = read_jsonl(path)  # asserts the file ends on a complete line
    assert len(lines) >= 8
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))


def test_memory_stays_bounded(tmp_path):
    """RSS after 400 samples is no larger than after 50 (+ small slack): the series is not kept."""
    script = """
import json, resource, sys
sys.path.insert(0, %r)
from ansible_collections.mlperf.storage.plugins.module_utils._sampler import Sampler
from ansible_collections.mlperf.storage.plugins.module_utils import _procfs
fake = [0.0]
def clock(): return fake[0]
def sleep(s): fake[0] += s
rss = []
for n in (50, 400):
    Sampler(path=sys.argv[1], interval=1.0, max_duration=1e9, max_samples=n, clock=clock, sleep=sleep).run()
    rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
print(json.dumps(rss))
""" % COLLECTIONS
    out = subprocess.check_output([sys.executable, "-c", script, str(tmp_path / "s.jsonl")],
                                  universal_newlines=True)
    small, large = json.loads(out)
    assert large - small < 2048, (small, large)  # KiB


# --------------------------------------------------------------------------- the module

def run_module(module, args, capsys):
    from ansible.module_utils.testing import patch_module_args
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_module_runs_and_reports_summary(tmp_path, capsys):
    from ansible_collections.mlperf.storage.plugins.modules import proc_sampler
    path = str(tmp_path / "run_1.jsonl")
    (tmp_path / "run_1.jsonl.phase").write_text("warmup\n")
    result = run_module(proc_sampler, {"path": path, "interval": 0.1, "max_samples": 3, "label": "run_1"}, capsys)
    assert result["changed"] is True and result["samples"] == 3 and result["stop_reason"] == "max_samples"
    assert result["label"] == "run_1"
    assert [line["phase"] for line in read_jsonl(path)] == ["warmup"] * 3


def test_module_check_mode_writes_nothing(tmp_path, capsys):
    from ansible_collections.mlperf.storage.plugins.modules import proc_sampler
    path = str(tmp_path / "s.jsonl")
    result = run_module(proc_sampler, {"path": path, "_ansible_check_mode": True}, capsys)
    assert result["stop_reason"] == "check_mode" and result["changed"] is True
    assert not os.path.exists(path)


def test_module_bad_input_fails_with_explanation(tmp_path, capsys):
    from ansible_collections.mlperf.storage.plugins.modules import proc_sampler
    result = run_module(proc_sampler, {"path": str(tmp_path / "s"), "interval": 0.01}, capsys)
    assert result["failed"] is True and "interval must be at least 0.1" in result["msg"]
    result = run_module(proc_sampler, {"path": str(tmp_path / "nodir" / "s"), "max_samples": 1}, capsys)
    assert result["failed"] is True and "does not exist" in result["msg"]
    assert "Traceback" not in result["msg"]


def test_unreadable_and_truncated_proc_files_never_stop_sampling(tmp_path):
    """Against a root whose files are cut or missing: samples keep coming with what can be read,
    and each problem is reported once, not once per sample."""
    reader = procfs.ProcReader(os.path.join(HERE, "fixtures", "proc", "truncated-reads"))
    fake = FakeClock()
    summary = Sampler(path=str(tmp_path / "s.jsonl"), interval=1.0, max_duration=100.0, max_samples=5,
                      reader=reader, clock=fake.clock, wall=fake.wall, sleep=fake.sleep).run()
    lines = read_jsonl(str(tmp_path / "s.jsonl"))
    assert summary["samples"] == len(lines) == 5
    assert all("cpu" not in line and "load" not in line for line in lines)  # cut /proc/stat and loadavg
    assert all(set(line["disk"]) == set() for line in lines)  # vda's line was cut; loop devices skipped
    assert all(line["mem"]["total"] > 0 for line in lines)
    assert len(summary["warnings"]) == len(set(summary["warnings"]))
    missing = procfs.ProcReader(str(tmp_path / "empty"))
    fake = FakeClock()
    summary = Sampler(path=str(tmp_path / "e.jsonl"), interval=1.0, max_duration=100.0, max_samples=3,
                      reader=missing, clock=fake.clock, wall=fake.wall, sleep=fake.sleep).run()
    assert summary["samples"] == 3 and len(summary["warnings"]) == 5  # one per /proc file


def test_async_ceiling_is_read_from_the_wrapper_command_line():
    wrapper = "\0".join(["/usr/bin/python3", "/root/.ansible/tmp/ansible-tmp-1/async_wrapper.py", "j1234", "7320",
                         "/root/.ansible/tmp/ansible-tmp-1/AnsiballZ_proc_sampler.py", "_", ""])
    assert sampler_mod.async_time_limit(wrapper) == 7320
    assert sampler_mod.async_time_limit("/usr/bin/python3\0AnsiballZ_proc_sampler.py\0") is None
    assert sampler_mod.async_time_limit("python3\0async_wrapper.py\0j1\0bogus\0") is None
    assert sampler_mod.duration_within_ceiling(7200.0, 7320) == 7200.0
    assert sampler_mod.duration_within_ceiling(7200.0, 7200) == 7195.0
    assert sampler_mod.duration_within_ceiling(60.0, 30) == 27.0
    assert sampler_mod.duration_within_ceiling(60.0, None) == 60.0


def test_module_lowers_max_duration_under_a_too_short_async_ceiling(tmp_path, capsys, monkeypatch):
    from ansible.module_utils import _internal

    from ansible_collections.mlperf.storage.plugins.modules import proc_sampler
    # once a controller-side plugin was loaded in this process (another test), ansible routes module warnings
    # to the controller's display instead of the module result; a module runs on a target, so say so
    monkeypatch.setattr(_internal, "is_controller", False, raising=False)
    monkeypatch.setattr(proc_sampler, "read_parent_cmdline",
                        lambda: "python3\0/tmp/async_wrapper.py\0j1\0" + "2" + "\0mod.py\0_\0")
    result = run_module(proc_sampler, {"path": str(tmp_path / "s.jsonl"), "interval": 0.2, "max_duration": 60},
                        capsys)
    assert result["stop_reason"] == "max_duration" and result["duration"] < 3.0
    # ansible-core 2.19 returns warnings as structured events; look for the text anywhere in them
    assert "not below the async ceiling of 2 s; sampling stops after 1.8 s" in json.dumps(result["warnings"])


# --------------------------------------------------------------------------- stopping by pid file
#
# The pid file lies in a working directory and the stop may run as root: its content must name a
# live process of the same user that holds this phase's series file open and carries its token.

NOBODY = 65534


@pytest.mark.parametrize("text", ["-1", "0", "", "   \n", "abc", "12 13", "+5", "0012", "4.2", "0x10",
                                  "\u0661\u0662", "99999999999", "4194305", "1;reboot"])
def test_pid_file_text_must_be_one_positive_pid(text):
    with pytest.raises(sampler_mod.NotOurSampler):
        sampler_mod.parse_pid(text)


def test_pid_file_text_accepts_a_pid_with_newline():
    assert sampler_mod.parse_pid(" 4242\n") == 4242 and sampler_mod.parse_pid("4194304") == 4194304


def fake_proc(root, pid, uid=0, state="S (sleeping)", environ=(), open_files=()):
    """A /proc/<pid> with status, environ and fd/ links, as the kernel shows them."""
    base = root / str(pid)
    (base / "fd").mkdir(parents=True)
    (base / "status").write_text("Name:\tpython3\nState:\t%s\nTgid:\t%d\nPid:\t%d\nUid:\t%d\t%d\t%d\t%d\n"
                                 % (state, pid, pid, uid, uid, uid, uid))
    (base / "environ").write_bytes(b"".join(e.encode() + b"\0" for e in environ))
    for number, target in enumerate(open_files, start=3):
        os.symlink(target, str(base / "fd" / str(number)))
    return base


def test_identify_accepts_the_phase_sampler_on_a_fake_proc(tmp_path):
    proc = tmp_path / "proc"
    series = str(tmp_path / "run_1.jsonl")
    fake_proc(proc, 4242, uid=1000, environ=["PATH=/usr/bin", "MLPERF_SAMPLER_TOKEN=tok1"],
              open_files=["/dev/null", series, "pipe:[1234]"])
    sampler_mod.identify_sampler(4242, series, token="tok1", expected_uid=1000, proc_root=str(proc))
    sampler_mod.identify_sampler(4242, series, expected_uid=1000, proc_root=str(proc))  # no token asked


@pytest.mark.parametrize("case, message", [
    ("other_user", "belongs to uid 65534, not to uid 1000"),
    ("no_token", "not started with this phase's sampler token"),
    ("other_token", "not started with this phase's sampler token"),
    ("other_file", "does not hold this phase's series file"),
])
def test_identify_refuses_a_process_that_is_not_our_sampler(tmp_path, case, message):
    proc = tmp_path / "proc"
    series = str(tmp_path / "run_1.jsonl")
    kwargs = dict(uid=1000, environ=["MLPERF_SAMPLER_TOKEN=tok1"], open_files=[series])
    if case == "other_user":
        kwargs["uid"] = NOBODY
    elif case == "no_token":
        kwargs["environ"] = ["PATH=/usr/bin"]
    elif case == "other_token":
        kwargs["environ"] = ["MLPERF_SAMPLER_TOKEN=tok2"]
    else:  # a reused pid: some process of the same user, another phase's file
        kwargs["open_files"] = [str(tmp_path / "run_0.jsonl")]
    fake_proc(proc, 4242, **kwargs)
    with pytest.raises(sampler_mod.NotOurSampler, match=message):
        sampler_mod.identify_sampler(4242, series, token="tok1", expected_uid=1000, proc_root=str(proc))


def test_identify_treats_missing_and_zombie_processes_as_gone(tmp_path):
    proc = tmp_path / "proc"
    series = str(tmp_path / "run_1.jsonl")
    fake_proc(proc, 77, uid=1000, state="Z (zombie)", environ=["MLPERF_SAMPLER_TOKEN=t"], open_files=[series])
    for pid in (77, 78):
        with pytest.raises(ProcessLookupError):
            sampler_mod.identify_sampler(pid, series, token="t", expected_uid=1000, proc_root=str(proc))


def start_token_sampler(tmp_path, token, name="run_1"):
    series = str(tmp_path / (name + ".jsonl"))
    pid_file = series + ".pid"
    env = dict(os.environ, MLPERF_SAMPLER_TOKEN=token)
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(
        {"path": series, "interval": 0.2, "max_duration": 60.0, "pid_file": pid_file, "stop_file": series + ".stop"})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env)
    deadline = time.time() + 10
    while not os.path.exists(pid_file) and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(pid_file)
    return proc, series, pid_file


def test_stop_terminates_the_real_sampler(tmp_path):
    proc, series, pid_file = start_token_sampler(tmp_path, "tok-real")
    result = sampler_mod.stop_sampler(pid_file, series, token="tok-real", wait=10)
    assert result == {"pid": proc.pid, "signalled": True, "exited": True, "outcome": "terminated", "reason": None}
    assert finish(proc)["stop_reason"] == "signal"
    # the pid file stays; a second stop finds the process gone (or reaped and maybe reused: never signalled)
    again = sampler_mod.stop_sampler(pid_file, series, token="tok-real", wait=1)
    assert again["signalled"] is False and again["outcome"] in ("not_running", "refused")


def test_stop_refuses_minus_one_and_garbage_and_signals_nothing(tmp_path):
    series = str(tmp_path / "run_1.jsonl")
    pid_file = str(tmp_path / "run_1.jsonl.pid")
    for text in ("-1\n", "0", "1 2", "garbage", "", "-%d" % os.getpgrp()):
        with open(pid_file, "w") as handle:
            handle.write(text)
        result = sampler_mod.stop_sampler(pid_file, series, token="t", wait=0)
        assert result["outcome"] == "refused" and result["signalled"] is False, (text, result)
        assert "positive process id" in result["reason"]


def test_stop_refuses_another_process_of_the_same_user(tmp_path):
    """A stale pid file whose pid now names another program (or another phase's sampler)."""
    other = subprocess.Popen(["sleep", "30"])
    sibling, _, _ = start_token_sampler(tmp_path, "tok-other", name="run_0")
    try:
        series = str(tmp_path / "run_1.jsonl")
        pid_file = str(tmp_path / "run_1.jsonl.pid")
        for victim, token in ((other, "tok1"), (sibling, "tok1"), (sibling, None)):
            with open(pid_file, "w") as handle:
                handle.write("%d\n" % victim.pid)
            result = sampler_mod.stop_sampler(pid_file, series, token=token, wait=0)
            assert result["outcome"] == "refused" and result["signalled"] is False, result
            assert victim.poll() is None
        with open(pid_file, "w") as handle:
            handle.write("%d\n" % os.getpid())
        assert sampler_mod.stop_sampler(pid_file, series, wait=0)["outcome"] == "refused"
    finally:
        other.kill()
        other.wait()
        sibling.terminate()
        finish(sibling)


@pytest.mark.skipif(os.geteuid() != 0, reason="starting a process of another user needs root")
def test_stop_refuses_a_process_of_another_user(tmp_path):
    import pathlib
    import shutil
    import tempfile
    shared = tempfile.mkdtemp(prefix="mlperf-sampler-test-", dir="/tmp")  # reachable by nobody, unlike tmp_path
    os.chmod(shared, 0o755)
    try:
        _stop_refuses_a_process_of_another_user(pathlib.Path(shared))
    finally:
        shutil.rmtree(shared)


def _stop_refuses_a_process_of_another_user(tmp_path):
    series = tmp_path / "run_1.jsonl"
    series.write_text("")
    os.chmod(str(series), 0o644)
    env = dict(os.environ, MLPERF_SAMPLER_TOKEN="tok1")
    # another user's process holding our series file open and carrying our token: still refused
    stranger = subprocess.Popen(["python3", "-c", "import sys, time; f = open(sys.argv[1]); time.sleep(30)",
                                 str(series)], user=NOBODY, env=env)
    try:
        deadline = time.time() + 5
        while time.time() < deadline and not any(
                os.readlink("/proc/%d/fd/%s" % (stranger.pid, fd)) == str(series)
                for fd in os.listdir("/proc/%d/fd" % stranger.pid)):
            time.sleep(0.05)
        pid_file = str(tmp_path / "run_1.jsonl.pid")
        with open(pid_file, "w") as handle:
            handle.write("%d\n" % stranger.pid)
        result = sampler_mod.stop_sampler(pid_file, str(series), token="tok1", wait=0)
        assert result["outcome"] == "refused" and "belongs to uid 65534" in result["reason"]
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_stop_without_pid_file_or_with_a_linked_one(tmp_path):
    series = str(tmp_path / "run_1.jsonl")
    pid_file = str(tmp_path / "run_1.jsonl.pid")
    result = sampler_mod.stop_sampler(pid_file, series, wait=0)
    assert result["outcome"] == "not_running" and "never started" in result["reason"]
    (tmp_path / "elsewhere").write_text("%d\n" % os.getpid())
    os.symlink(str(tmp_path / "elsewhere"), pid_file)
    result = sampler_mod.stop_sampler(pid_file, series, wait=0)
    assert result["outcome"] == "refused" and "symbolic link" in result["reason"]


def test_stop_of_an_exited_sampler_is_not_running(tmp_path):
    proc, series, pid_file = start_token_sampler(tmp_path, "tok-gone")
    with open(series + ".stop", "w"):
        pass
    finish(proc)  # exited and reaped; its pid file stays behind
    result = sampler_mod.stop_sampler(pid_file, series, token="tok-gone", wait=0)
    assert result["signalled"] is False and result["outcome"] in ("not_running", "refused")


def test_module_stopped_state(tmp_path, capsys):
    from ansible_collections.mlperf.storage.plugins.modules import proc_sampler
    proc, series, pid_file = start_token_sampler(tmp_path, "tok-mod")
    result = run_module(proc_sampler, {"path": series, "state": "stopped", "token": "wrong"}, capsys)
    assert result["outcome"] == "refused" and result["changed"] is False and proc.poll() is None
    assert "Traceback" not in json.dumps(result)
    result = run_module(proc_sampler, {"path": series, "state": "stopped", "token": "tok-mod", "stop_wait": 10},
                        capsys)
    assert result["outcome"] == "terminated" and result["signalled"] is True and result["pid"] == proc.pid
    assert finish(proc)["stop_reason"] == "signal"


def test_module_refuses_a_token_missing_from_its_environment(tmp_path, capsys, monkeypatch):
    from ansible_collections.mlperf.storage.plugins.modules import proc_sampler
    monkeypatch.delenv("MLPERF_SAMPLER_TOKEN", raising=False)
    result = run_module(proc_sampler, {"path": str(tmp_path / "s.jsonl"), "token": "t1", "max_samples": 1}, capsys)
    assert result["failed"] is True and "MLPERF_SAMPLER_TOKEN" in result["msg"]
    monkeypatch.setenv("MLPERF_SAMPLER_TOKEN", "t1")
    result = run_module(proc_sampler, {"path": str(tmp_path / "s.jsonl"), "token": "t1", "interval": 0.1,
                                       "max_samples": 1}, capsys)
    assert result["samples"] == 1
