# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Playbooks run through ansible-runner, the way AWX runs them, and what the tests read back from the run.

ansible_runner is imported when a play runs: the test modules that use these skip themselves without it.
"""
import json
import os
import sys
import textwrap

from _testpaths import COLLECTIONS, REPO

LOCAL_INVENTORY = os.path.join(REPO, "inventories", "local", "hosts.yml")


def run_project_playbook(base, playbook, extravars, name, cmdline=None):
    """Runs the collection's ``playbook`` (a path below the checkout) on the local inventory; its output is also
    kept in ``base/<name>.log``. Returns the runner result and that output."""
    import ansible_runner

    private = base / ("runner-" + name)
    private.mkdir()
    result = ansible_runner.run(
        private_data_dir=str(private), project_dir=REPO, playbook=playbook, inventory=LOCAL_INVENTORY,
        extravars=extravars, cmdline=cmdline, envvars={"ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg")},
        quiet=True)
    out = result.stdout.read()
    (base / (name + ".log")).write_text(out)
    return result, out


def run_local_play(private, play_name, tasks, extravars=None, envvars=None):
    """Runs ``tasks`` as the one play of a playbook on localhost (connection local, this interpreter) with the
    collection from the checkout. ``tasks``: YAML text of a task list, or a list of tasks as dicts; ``private``:
    the runner's private data directory (made here). Returns the runner result and its output."""
    import ansible_runner

    if not isinstance(tasks, str):
        tasks = json.dumps(tasks, indent=2) + "\n"  # JSON is YAML
    (private / "project").mkdir(parents=True)
    (private / "project" / "play.yml").write_text(textwrap.dedent("""\
        - name: %s
          hosts: localhost
          connection: local
          gather_facts: false
          tasks:
        """) % play_name + textwrap.indent(textwrap.dedent(tasks), "    "))
    env = {"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    env.update(envvars or {})
    result = ansible_runner.run(private_data_dir=str(private), playbook="play.yml",
                                inventory="localhost ansible_connection=local ansible_python_interpreter=%s"
                                % sys.executable, envvars=env, extravars=extravars or {}, quiet=True)
    return result, result.stdout.read()


def assert_task(*that, name="Check"):
    """A task (as a dict, for run_local_play) that asserts each expression of ``that``."""
    return {"name": name, "ansible.builtin.assert": {"that": list(that)}}


def artifact_data(result):
    """The custom stats the run published (set_stats), as AWX shows them: {} when there are none."""
    for event in result.events:
        if event.get("event") == "playbook_on_stats":
            return event["event_data"].get("artifact_data") or {}
    return {}

