# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An action plugin's argument spec and the documentation of its module stub say the same thing.

ansible-test's validate-modules compares a module's doc with the module's own argument spec; for a module
whose work is done by an action plugin of the same name it cannot see the spec that really validates the
task. This test reads the action's spec (module-level ``ARGUMENT_SPEC`` or ``ActionModule.ARGUMENT_SPEC``)
and the module doc as ``ansible-doc -j`` renders it (doc fragments resolved) and compares option names, type,
required, default, choices, elements and aliases, suboptions included. An action without a spec is reported
as not compared (a skip with the reason, listed in the summary).
"""
import glob
import importlib
import json
import os
import subprocess
import sys

import pytest

from _testpaths import COLLECTIONS, REPO

ACTIONS = sorted(os.path.splitext(os.path.basename(p))[0]
                 for p in glob.glob(os.path.join(REPO, "plugins", "action", "*.py"))
                 if not os.path.basename(p).startswith("_"))


def action_spec(name):
    """The argument spec the action validates its task with, or None when it has none."""
    module = importlib.import_module("ansible_collections.mlperf.storage.plugins.action.%s" % name)
    spec = getattr(module, "ARGUMENT_SPEC", None)
    if not spec:
        spec = getattr(getattr(module, "ActionModule", None), "ARGUMENT_SPEC", None)
    return spec or None


@pytest.fixture(scope="module")
def module_docs():
    """The module docs of every action, as ansible-doc renders them (one call for all)."""
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    names = ["mlperf.storage.%s" % name for name in ACTIONS]
    proc = subprocess.run([ansible_doc, "-t", "module", "-j"] + names, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def normalise(value):
    """Lists compare as sets of their JSON forms (choice and alias order carries no meaning)."""
    if isinstance(value, (list, tuple)):
        return sorted(json.dumps(item, sort_keys=True) for item in value)
    return value


def differences(doc_options, spec, where=""):
    """Every way the documented options and the spec disagree, one line each."""
    doc_options = doc_options or {}
    spec = spec or {}
    found = []
    for name in sorted(set(doc_options) - set(spec)):
        found.append("%s%s: documented, not in the argument spec" % (where, name))
    for name in sorted(set(spec) - set(doc_options)):
        found.append("%s%s: in the argument spec, not documented" % (where, name))
    for name in sorted(set(doc_options) & set(spec)):
        doc, arg = doc_options[name], spec[name]
        pairs = {
            # Ansible's own defaults when a key is left out: type str, not required, no default
            "type": (doc.get("type", "str"), arg.get("type", "str")),
            "required": (bool(doc.get("required", False)), bool(arg.get("required", False))),
            "default": (doc.get("default"), arg.get("default")),
            "choices": (normalise(doc.get("choices")), normalise(arg.get("choices"))),
            "elements": (doc.get("elements"), arg.get("elements")),
            "aliases": (normalise(doc.get("aliases") or []), normalise(arg.get("aliases") or [])),
        }
        for key, (documented, specified) in pairs.items():
            if documented != specified:
                found.append("%s%s: %s is %r in the doc, %r in the spec" % (where, name, key, documented, specified))
        if doc.get("suboptions") or arg.get("options"):
            found.extend(differences(doc.get("suboptions"), arg.get("options"), "%s%s." % (where, name)))
    return found


def test_every_action_has_a_module_doc(module_docs):
    missing = [name for name in ACTIONS if "mlperf.storage.%s" % name not in module_docs]
    assert not missing, "actions without a module doc ansible-doc can render: %s" % missing


@pytest.mark.parametrize("name", ACTIONS)
def test_action_spec_matches_module_doc(name, module_docs):
    spec = action_spec(name)
    if spec is None:
        pytest.skip("%s: the action has no ARGUMENT_SPEC, so its module doc is not compared with one" % name)
    doc = module_docs["mlperf.storage.%s" % name]["doc"]
    found = differences(doc.get("options"), spec)
    assert not found, "mlperf.storage.%s doc vs action spec:\n  %s" % (name, "\n  ".join(found))


def test_differences_sees_each_kind_of_mismatch():
    doc = {"a": {"type": "dict"}, "b": {"type": "int", "default": 1}, "c": {"type": "list", "elements": "str"},
           "d": {"type": "str", "choices": ["x", "y"]}, "e": {"type": "str", "required": True},
           "only_doc": {}, "n": {"type": "dict", "suboptions": {"k": {"type": "str"}}}}
    spec = {"a": {"type": "raw"}, "b": {"type": "int", "default": 2}, "c": {"type": "list", "elements": "dict"},
            "d": {"type": "str", "choices": ["y", "z"]}, "e": {"type": "str"},
            "only_spec": {}, "n": {"type": "dict", "options": {"k": {"type": "int"}}}}
    found = "\n".join(differences(doc, spec))
    for expected in ("a: type is 'dict' in the doc, 'raw' in the spec", "b: default is 1 in the doc, 2 in the spec",
                     "c: elements", "d: choices", "e: required", "only_doc: documented, not in the argument spec",
                     "only_spec: in the argument spec, not documented", "n.k: type"):
        assert expected in found
    same = {"p": {"type": "str", "choices": ["x", "y"], "aliases": ["q"]}}
    assert differences(same, {"p": {"choices": ["y", "x"], "aliases": ["q"]}}) == []
