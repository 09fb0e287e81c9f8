# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The proc_facts module run in-process with patched module arguments."""
import ast
import re
import json
import os

import pytest

from ansible_collections.mlperf.storage.plugins.modules import proc_facts

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET_SIDE = [
    "plugins/module_utils/_procfs.py",
    "plugins/module_utils/_sampler.py",
    "plugins/modules/proc_facts.py",
    "plugins/modules/proc_sampler.py",
]


def test_facts_only_never_changed(tmp_path, call_module):
    result = call_module(proc_facts, {"paths": {"data_dir": str(tmp_path)}, "label": "start"})
    assert result["changed"] is False
    snap = result["ansible_facts"]["mlperf_proc"]
    assert snap["label"] == "start" and snap["meminfo"]["MemTotal"] > 0
    assert snap["paths"]["data_dir"]["exists"] is True and snap["paths"]["data_dir"]["fstype"]
    assert "dest" not in result


def test_dest_written_and_changed(tmp_path, call_module):
    dest = tmp_path / "snap.json"
    result = call_module(proc_facts, {"label": "end", "dest": str(dest), "mode": "0600"})
    assert result["changed"] is True and result["dest"] == str(dest)
    written = json.loads(dest.read_text())
    assert written == result["ansible_facts"]["mlperf_proc"]
    assert oct(os.stat(dest).st_mode & 0o777) == "0o600"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".proc_facts.")]  # no temp file left


def test_check_mode_predicts_but_does_not_write(tmp_path, call_module):
    dest = tmp_path / "snap.json"
    result = call_module(proc_facts, {"dest": str(dest), "_ansible_check_mode": True})
    assert result["changed"] is True and not dest.exists()
    assert result["ansible_facts"]["mlperf_proc"]["cpuinfo"]["threads"] >= 1


def test_bad_input_is_explained(tmp_path, call_module):
    result = call_module(proc_facts, {"dest": str(tmp_path / "missing" / "snap.json")})
    assert result["failed"] is True and "does not exist; create it first" in result["msg"]
    result = call_module(proc_facts, {"paths": {"data_dir": "", "ok": "/tmp"}})
    assert result["failed"] is True and "data_dir" in result["msg"] and "ok" not in result["msg"].split("entries")[1]


@pytest.mark.parametrize("relative", TARGET_SIDE)
def test_target_side_code_parses_as_python_3_9(relative, target_imports):
    roots = target_imports(relative)
    assert roots <= {"__future__", "ansible", "ansible_collections", "errno", "fcntl", "hashlib", "json", "os",
                     "re", "signal", "socket", "tempfile", "time"}, roots


DOCUMENTED = ["plugins/modules/proc_facts.py", "plugins/modules/proc_sampler.py", "plugins/modules/telemetry_collect.py"]


@pytest.mark.parametrize("relative", DOCUMENTED)
def test_documentation_parses_and_matches_argument_spec(relative):
    import yaml
    with open(os.path.join(REPO, relative)) as handle:
        tree = ast.parse(handle.read())
    blocks = dict((node.targets[0].id, node.value.value) for node in tree.body
                  if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                  and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN"))
    assert set(blocks) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    doc = yaml.safe_load(blocks["DOCUMENTATION"])
    examples = yaml.safe_load(blocks["EXAMPLES"])
    yaml.safe_load(blocks["RETURN"])
    name = os.path.splitext(os.path.basename(relative))[0]
    assert doc["module"] == name
    assert any("mlperf.storage." + name in task for task in examples), "examples must use the FQCN"
    source = open(os.path.join(REPO, relative)).read()
    if "Documentation stub" in source:  # the argument spec lives in the action plugin of the same name
        source = open(os.path.join(REPO, "plugins", "action", name + ".py")).read()
    if "**sampler_options()" in source:  # the sampler's settings come from the spec both sampler modules share
        source += open(os.path.join(REPO, "plugins", "module_utils", "_sampler.py")).read()
    for option, spec in doc["options"].items():
        assert spec.get("type"), "%s: option %s has no type" % (relative, option)
        assert re.search(r"\b%s=dict\(type=\"%s\"" % (option, spec["type"]), source), \
            "%s: option %s documented as %s but not in the argument spec that way" % (relative, option, spec["type"])
