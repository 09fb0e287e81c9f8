# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every script in bench/ runs, in its quickest mode, and prints the numbers it exists to print.

The benches measure speed and cost on demand; nothing asserts a timing. These smokes only check that each one
still runs to the end (exit 0) and that what it prints (its table or its --json rows) holds numbers of the
right sign and kind, so a bench cannot break silently. Each script runs as a subprocess of this interpreter (the
controller environment), from the repository root, as documented in its docstring.
"""
import glob
import json
import math
import os
import re
import subprocess
import sys

import pytest

from _testpaths import CORPUS, REPO
from harness.netns import missing_prerequisites

pytestmark = [pytest.mark.integration]

BENCH = os.path.join(REPO, "bench")
VECTORDB_VENV = "/var/tmp/mlperf-storage/venv-vectordb"  # the vectordb role's default, as the bench's --venv
HANG_GUARD = 900  # seconds: a bench that never ends fails instead of blocking the run (not a timing check)

# bench script -> its smoke below; a new bench without a smoke fails test_every_bench_has_a_smoke
SMOKED = {
    "multihost_scale.py": "test_multihost_scale",
    "provision_time.py": "test_provision_time",
    "run_gap.py": "test_run_gap",
    "sampler_cost.py": "test_sampler_cost",
    "training_overhead.py": "test_training_overhead",
    "vectordb_throughput.py": "test_vectordb_throughput",
    "verify_sealed_throughput.py": "test_verify_sealed_throughput",
    "verify_throughput.py": "test_verify_throughput",
}


def run_bench(script, *args):
    argv = [sys.executable, os.path.join(BENCH, script)] + [str(a) for a in args]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=HANG_GUARD,
                          env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, "%s exited %d:\n%s\n%s" % (" ".join(argv), proc.returncode, proc.stdout[-4000:],
                                                            proc.stderr[-4000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    return proc.stdout


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def positive(value):
    return is_number(value) and value > 0


def line_matching(pattern, out):
    found = re.search(pattern, out, re.M)
    assert found, "no line matching %r in:\n%s" % (pattern, out)
    return found


def needs_corpus():
    if not os.path.isdir(os.path.join(CORPUS, "closed")):
        pytest.skip("the published results corpus is not at %s (set MLPERF_CORPUS)" % CORPUS)


def test_every_bench_has_a_smoke():
    # bench/_*.py are modules the scripts share, not benches
    scripts = sorted(os.path.basename(p) for p in glob.glob(os.path.join(BENCH, "*.py"))
                     if not os.path.basename(p).startswith("_"))
    assert scripts == sorted(SMOKED)
    assert all(callable(globals().get(name)) for name in SMOKED.values())


def test_verify_throughput():
    needs_corpus()
    out = run_bench("verify_throughput.py", "--corpus", CORPUS, "--runs", 20, "--repeat", 1)
    number = r"(\d+(?:\.\d+)?)"
    corpus = line_matching(r"^corpus: (\d+) runs, (\d+) results, verdict (\w+): %s s, %s runs/s$"
                           % (number, number), out)
    synthetic = line_matching(r"^synthetic: (\d+) runs, (\d+) results \(copied in %s s\), verdict (\w+): %s s, "
                              r"%s runs/s$" % (number, number, number), out)
    runs, results, verdict, seconds, rate = corpus.groups()
    assert int(runs) > 0 and int(results) > 0 and verdict in ("CLOSED", "OPEN", "INVALID")
    assert float(seconds) > 0 and float(rate) > 0
    runs, results, _copy, verdict, seconds, rate = synthetic.groups()
    assert int(runs) >= 20 and 0 < int(results) <= int(runs) and verdict in ("CLOSED", "OPEN", "INVALID")
    assert float(seconds) > 0 and float(rate) > 0


def test_verify_sealed_throughput():
    needs_corpus()
    pad_mb = 0.25  # exercises the padding path; the tree must then weigh at least that much per run
    out = run_bench("verify_sealed_throughput.py", "--corpus", CORPUS, "--runs", 20, "--repeat", 1,
                    "--pad-mb", pad_mb)
    sealed = line_matching(r"^sealed tree: (\d+) runs, (\d+) listed files, (\d+\.\d) MiB$", out)
    runs, files, mib = int(sealed.group(1)), int(sealed.group(2)), float(sealed.group(3))
    assert runs >= 20 and files > runs and mib >= runs * pad_mb
    verdicts = set()
    for mode in ("presence", "sha256"):
        found = line_matching(r"^checksums=%s\s*: (\d+) runs, verdict (\w+): (\d+\.\d+) s \((\d+\.\d+) s CPU\), "
                              r"(\d+) runs/s$" % mode, out)
        assert int(found.group(1)) == runs
        verdicts.add(found.group(2))
        assert float(found.group(3)) > 0 and float(found.group(4)) >= 0 and int(found.group(5)) > 0
    assert len(verdicts) == 1 and verdicts <= {"CLOSED", "OPEN", "INVALID"}, verdicts


def test_sampler_cost(tmp_path):
    out_json = tmp_path / "sampler.json"
    out = run_bench("sampler_cost.py", "--seconds", 2, "--json", out_json)
    rows = json.loads(out_json.read_text())
    by_kind = {(r["method"], r["interval"]): r for r in rows}
    for kind in (("long-lived sampler", 1.0), ("long-lived sampler", 0.1), ("process per sample", 1.0),
                 ("process per sample", 0.1)):
        assert kind in by_kind, (kind, sorted(by_kind))
    for row in rows:
        assert isinstance(row["samples"], int) and row["samples"] > 0, row
        assert positive(row["wall_s"]) and positive(row["rss_mib"]) and positive(row["cpu_pct_with_startup"]), row
        assert is_number(row["cpu_pct"]) and row["cpu_pct"] >= 0, row  # the steady share may round to 0 in 2 s
        if row["method"] == "long-lived sampler":
            assert positive(row["startup_cpu_s"]), row
    # the same sampling at ten times the rate takes more samples
    for method in ("long-lived sampler", "process per sample"):
        assert by_kind[(method, 0.1)]["samples"] > by_kind[(method, 1.0)]["samples"]
    assert len(re.findall(r"^(long-lived sampler|process per sample|ssh \+ process per sample)\s+\d", out,
                          re.M)) == len(rows)
    # the ssh row is there or its absence is explained
    assert ("ssh + process per sample", 1.0) in by_kind or "(ssh per-sample row skipped: " in out
    line_matching(r"one-off interpreter start-up \(\d+\.\d{3} CPU s\)", out)


def test_provision_time(tmp_path, embedded_env):
    out_json = tmp_path / "provision.json"
    run_bench("provision_time.py", "--venv", embedded_env, "--json", out_json)
    data = json.loads(out_json.read_text())
    for label in ("first", "second"):
        run = data[label]
        assert run["rc"] == 0 and positive(run["seconds"]) and run["recap"], run
        assert all(r["ok"] > 0 and r["failed"] == 0 for r in run["recap"].values()), run
    assert data["second"]["changed"] == 0
    core = data["core"]
    assert positive(core["median_ms"]) and core["pins"] > 0 and core["installed"] >= core["pins"], core
    assert core["mismatches"] == 0, core
    module = data["module"]
    assert module["rc"] == 0 and positive(module["seconds"]) and module["matches"] == "true", module


@pytest.fixture(scope="module")
def vectordb_env(tmp_path_factory):
    """The vector database environment where the bench looks for it: the vectordb lock installed (or checked, a
    few seconds when it already matches) by the python_env role, as run_vectordb.yml does on its launcher."""
    book = tmp_path_factory.mktemp("vectordb-env") / "vectordb_env.yml"
    book.write_text("""
- hosts: localhost
  gather_facts: false
  roles:
    - role: mlperf.storage.python_env
      vars:
        python_env_profile: vectordb
        python_env_lock_file: ""
        python_env_dir: %s
        python_env_mode: converge
  tasks:
    - name: The environment matches the vectordb lock
      ansible.builtin.assert:
        that: python_env_result.matches | bool
""" % VECTORDB_VENV)
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "inventories/local", str(book)],
        cwd=REPO, capture_output=True, text=True, timeout=HANG_GUARD,
        env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1"))
    if proc.returncode != 0:
        pytest.fail("installing the vectordb environment failed:\n" + (proc.stdout + proc.stderr)[-4000:])
    return VECTORDB_VENV


def test_vectordb_throughput(tmp_path, vectordb_env):
    vectors, queries = 2000, 100
    out_json = tmp_path / "vectordb.json"
    out = run_bench("vectordb_throughput.py", "--venv", vectordb_env, "--scales", vectors, "--queries", queries,
                    "--json", out_json)
    (row,) = json.loads(out_json.read_text())
    assert row["vectors"] == vectors and row["queries"] == queries
    assert isinstance(row["dim"], int) and row["dim"] > 0 and row["index"]
    assert isinstance(row["processes"], int) and row["processes"] > 0
    for key in ("insert_s", "insert_vps", "index_s", "load_wall_s", "qps", "mean_ms", "p99_ms", "search_wall_s"):
        assert positive(row[key]), (key, row)
    assert row["mean_ms"] <= row["p99_ms"]
    assert 0 < row["recall"] <= 1, row
    # the printed table: its header and one row for the scale
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert lines[0][0] == "vectors" and "QPS" in lines[0]
    assert [cells[0] for cells in lines[1:]] == [str(vectors)]


@pytest.mark.multihost
def test_multihost_scale(tmp_path):
    reasons = missing_prerequisites()
    if reasons:
        pytest.skip("namespace SSH test hosts unavailable: " + "; ".join(reasons))
    out_json = tmp_path / "multihost.json"
    out = run_bench("multihost_scale.py", "--hosts", 1, "--json", out_json)
    data = json.loads(out_json.read_text())
    (row,) = data["rows"]
    assert row["hosts"] == 1 and positive(row["preflight_s"]) and positive(row["telemetry_s"]), row
    assert data["cores"] > 0
    # one host count gives no slope, and says so rather than printing a zero
    assert data["marginal_per_host"] == {"preflight_s": None, "telemetry_s": None,
                                         "controller_task_per_host_s": None, "remote_task_per_host_s": None}
    assert positive(row["controller_tasks_s"]) and positive(row["remote_tasks_s"]), row
    assert "marginal cost per host: not measured" in out
    assert "target preflight cost per extra host <= 0.5s: not measured" in out
    line_matching(r"^\s+1\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d$", out)


def test_training_overhead(embedded_env):
    out = run_bench("training_overhead.py", "--quick", "--repeat", 1)
    sizing = line_matching(r"^one training run, quick sizing \((\w+), (\d+) x (\d+) KiB files, (\d+) ranks, "
                           r"(\d+) epochs\), median of 1$", out)
    assert all(int(n) > 0 for n in sizing.groups()[1:]), sizing.groups()
    values = {}
    for label in ("playbook (preflight+plan+run+verify), telemetry", "playbook, telemetry off",
                  "engine time recorded by the playbook", "same DLIO command by hand", "ratio playbook / by hand",
                  "fixed overhead per invocation (s)", "telemetry cost per run (s)"):
        values[label] = float(line_matching(r"^%s\s+(-?\d+\.\d+)$" % re.escape(label), out).group(1))
    for label in ("playbook (preflight+plan+run+verify), telemetry", "playbook, telemetry off",
                  "engine time recorded by the playbook", "same DLIO command by hand", "ratio playbook / by hand"):
        assert values[label] > 0, (label, out)
    # the differences may be of either sign on a noisy machine; they must be numbers
    assert all(is_number(v) for v in values.values())
    # the run says by itself which target it meets, from the figures it printed
    for what, label, limit in (("ratio playbook / by hand", "ratio playbook / by hand", 1.5),
                               ("fixed overhead per invocation", "fixed overhead per invocation (s)", 6),
                               ("telemetry cost per invocation", "telemetry cost per run (s)", 0.5)):
        target = line_matching(r"^target %s <= %g\w: (met|NOT met) \(measured (-?\d+\.\d+)\w\)$"
                               % (re.escape(what), limit), out)
        measured = float(target.group(2))
        assert abs(measured - values[label]) <= 0.06 and (target.group(1) == "met") == (measured <= limit), (
            target.group(0), values[label])


def test_run_gap(embedded_env):
    out = run_bench("run_gap.py", "--quick", "--runs", 2, "--compare")
    sizing = line_matching(r"^run set of 2 training runs, quick sizing \((\w+), (\d+) x (\d+) KiB files, (\d+) ranks, "
                           r"(\d+) epochs\)$", out)
    assert all(int(n) > 0 for n in sizing.groups()[1:]), sizing.groups()
    values = {}
    for label in ("idle engine time between runs, mean", "idle engine time between runs, max",
                  "engine time of the runs (sum)", "playbook (preflight+plan+runs+verify)",
                  "same DLIO command by hand, back to back", "ratio playbook / by hand", "overhead per run (s)"):
        values[label] = float(line_matching(r"^%s\s+(-?\d+\.\d+)$" % re.escape(label), out).group(1))
    for label in ("engine time of the runs (sum)", "playbook (preflight+plan+runs+verify)",
                  "same DLIO command by hand, back to back", "ratio playbook / by hand"):
        assert values[label] > 0, (label, out)
    # an engine never starts before the previous one ended: a gap is never negative
    assert values["idle engine time between runs, mean"] >= 0 and values["idle engine time between runs, max"] >= 0
    gaps = line_matching(r"^gaps: (.+)$", out).group(1).split(", ")
    assert len(gaps) == 1 and float(gaps[0]) >= 0
    line_matching(r"^rule 2\.1\.18: ", out)
    target = line_matching(r"^target idle engine time between runs, localhost <= 0\.7s: (met|NOT met) "
                           r"\(measured (\d+\.\d+)s\)$", out)
    assert (target.group(1) == "met") == (float(target.group(2)) <= 0.7)
    for label in ("one phase per run: idle time between runs, mean", "one phase per run: idle time between runs, max",
                  "one phase per run: playbook"):
        assert float(line_matching(r"^%s\s+(-?\d+\.\d+)$" % re.escape(label), out).group(1)) >= 0, (label, out)
    line_matching(r"^one phase per run: rule 2\.1\.18: ", out)
