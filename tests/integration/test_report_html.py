# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report as a person sees it: a real training run on localhost, its HTML page opened in headless Chromium.

playbooks/run_training.yml (one measured run, the real DLIO) ends with the report play; the test reads the page's
DOM (verdict, plots, commands), the rollups and the generated system description, then renders the page in
Chromium and checks the screenshot shows the verdict badge and the shaded plots.
"""
import csv
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
import yaml

from _testpaths import REPO

ansible_runner = pytest.importorskip("ansible_runner")

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WINDOW = (1400, 3000)
INVALID_RGB = (0xc6, 0x28, 0x28)  # the INVALID badge colour of the page's style sheet
# the first phase colour at alpha 0.6 over white, as matplotlib composites it
PHASE_RGB = tuple(int(round(0.6 * c + 0.4 * 255)) for c in (0xf4, 0xd5, 0x8d))


class PageDom(HTMLParser):
    """The few things a reader looks for: the verdict badge, the plots, the command blocks, headings."""

    def __init__(self):
        super().__init__()
        self.verdict = None
        self.svg_plots = 0
        self.img_plots = 0
        self.commands = []
        self.sections = 0
        self._capture = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if attrs.get("id") == "verdict":
            self._capture = "verdict"
        elif tag == "svg" and "plot" in classes:
            self.svg_plots += 1
        elif tag == "img" and "plot" in classes:
            self.img_plots += 1
        elif tag == "pre" and "command" in classes:
            self._capture = "command"
            self.commands.append("")
        elif tag == "section" and "run" in classes:
            self.sections += 1

    def handle_endtag(self, tag):
        if tag in ("span", "pre"):
            self._capture = None

    def handle_data(self, data):
        if self._capture == "verdict":
            self.verdict = (self.verdict or "") + data.strip()
        elif self._capture == "command":
            self.commands[-1] += data


def artifact_data(result):
    for event in result.events:
        if event.get("event") == "playbook_on_stats":
            return event["event_data"].get("artifact_data") or {}
    return {}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, embedded_env):
    base = tmp_path_factory.mktemp("report")
    dirs = {name: base / name for name in ("results", "data", "work", "runner")}
    for path in dirs.values():
        path.mkdir()
    result = ansible_runner.run(
        private_data_dir=str(dirs["runner"]), project_dir=REPO, playbook="playbooks/run_training.yml",
        inventory=os.path.join(REPO, "inventories", "local", "hosts.yml"),
        extravars={"mlperf_results_dir": str(dirs["results"]), "mlperf_data_dir": str(dirs["data"]),
                   "mlperf_work_dir": str(dirs["work"]), "mlperf_runs": 1, "python_env_dir": embedded_env},
        envvars={"ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg")}, quiet=True)
    out = result.stdout.read()
    (base / "play.log").write_text(out)
    assert result.rc == 0, out[-4000:]
    dirs["out"] = out
    dirs["artifacts"] = artifact_data(result)
    dirs["page"] = dirs["results"] / "mlperf-report.html"
    dirs["model"] = dirs["results"] / "open" / "embedded" / "results" / "localhost" / "training" / "unet3d"
    return dirs


def test_the_training_play_ends_with_the_report(trained):
    assert trained["page"].is_file()
    assert "mlperf.storage.report : Write the report" in trained["out"]
    artifacts = trained["artifacts"]
    assert artifacts["mlperf_report_html"] == str(trained["page"])
    assert artifacts["mlperf_report_verdict"] == artifacts["mlperf_verdict"] == "INVALID"
    # the verify step's results path stays what it verified
    assert artifacts["mlperf_results_dir"] == str(trained["model"])


def test_page_dom_has_verdict_plots_and_commands(trained):
    page = trained["page"].read_text()
    dom = PageDom()
    dom.feed(page)
    assert dom.verdict == "INVALID"
    leaves = [p for sub in ("datasize", "datagen", "run") for p in sorted((trained["model"] / sub).iterdir())
              if p.is_dir()]
    assert dom.sections == len(leaves) == 3
    with_series = [p for p in leaves if list(p.glob("*_timeseries.json"))]
    assert len(with_series) >= 2  # datagen and the run were sampled
    assert dom.svg_plots == len(with_series) and dom.img_plots == 0
    run_leaf = sorted(p for p in (trained["model"] / "run").iterdir() if p.is_dir())[0]
    meta = json.loads((run_leaf / ("training_%s_metadata.json" % run_leaf.name)).read_text())
    assert meta["executed_command"] in [c.strip() for c in dom.commands]
    assert "phase (shaded)" in page and "run_%s" % run_leaf.name in page


def test_rollups_and_system_description(trained):
    run_dir = trained["model"] / "run"
    doc = json.loads((run_dir / "results.json").read_text())
    run_leaf = sorted(p for p in run_dir.iterdir() if p.is_dir())[0]
    summary = json.loads((run_leaf / "summary.json").read_text())
    assert doc["result"]["Verdict"] == "INVALID" and doc["result"]["Runs"] == 1
    assert doc["result"]["Processes"] == summary["num_accelerators"]
    rows = list(csv.DictReader(open(run_dir / "results.csv")))
    assert rows[0]["Workload"] == "unet3d" and rows[0]["Submitter"] == "embedded"
    org = json.loads((trained["results"] / "open" / "embedded" / "results" / "results.json").read_text())
    assert [r["Benchmark"] for r in org["results"]] == ["training"]

    sut = yaml.safe_load((trained["results"] / "open" / "embedded" / "systems" / "localhost.yaml").read_text())
    client = sut["system_under_test"]["clients"][0]
    with open("/proc/meminfo") as handle:
        mem_kib = int(re.search(r"MemTotal:\s+(\d+)", handle.read()).group(1))
    assert client["chassis"]["memory_capacity"] == round(mem_kib / 1024.0 ** 2)
    assert client["chassis"]["cpu_cores"] == meta_cores(run_leaf)


def meta_cores(run_leaf):
    meta = json.loads((run_leaf / ("training_%s_metadata.json" % run_leaf.name)).read_text())
    return meta["system_info"]["hosts"][0]["cpu"]["num_cores"]


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_page_renders_in_headless_chromium(trained, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no headless Chromium on this machine (apt-get install chromium)")
    Image = pytest.importorskip("PIL.Image")
    shot = tmp_path / "report.png"
    proc = subprocess.run([browser] + CHROMIUM_FLAGS + [
        "--user-data-dir=%s" % (tmp_path / "profile"), "--screenshot=%s" % shot,
        "--window-size=%d,%d" % WINDOW, "file://%s" % trained["page"]],
        capture_output=True, text=True, timeout=180)
    if not shot.exists():
        pytest.skip("Chromium could not render here (rc %s): %s" % (proc.returncode, proc.stderr[-800:]))
    shutil.copy(shot, trained["results"].parent / "report-screenshot.png")  # kept with the test's temp tree
    image = Image.open(shot).convert("RGB")
    assert image.size == WINDOW
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, badges and plots, not a blank page
    counts = dict((rgb, n) for n, rgb in colours)
    # the INVALID badge near the top, large enough to read
    top = image.crop((0, 0, WINDOW[0], 200)).getcolors(maxcolors=1 << 20)
    assert sum(n for n, rgb in top if rgb == INVALID_RGB) > 1500
    # the shaded benchmark phase of the plots is on screen
    near = sum(n for rgb, n in counts.items() if all(abs(a - b) <= 3 for a, b in zip(rgb, PHASE_RGB)))
    assert near > 20000


def _report_playbook(*extra):
    import sys
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                           "inventories/local", "playbooks/report.yml"] + list(extra), cwd=REPO,
                          capture_output=True, text=True, env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(
                              REPO, "ansible.cfg")))


def test_report_playbook_explains_a_missing_tree(tmp_path):
    missing = tmp_path / "no-such-results"
    proc = _report_playbook("-e", "report_results_dir=%s" % missing)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert "report not written: results_dir %s is not a directory" % missing in out
    # in check mode an absent tree is not an error: a check-mode benchmark play writes none
    proc = _report_playbook("-e", "report_results_dir=%s" % missing, "--check")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    assert "once it exists (check mode wrote no results)" in proc.stdout and not missing.exists()
