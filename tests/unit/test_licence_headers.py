# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every tracked Python file of the collection opens with the licence header (after a shebang and a coding
line where it has them)."""
import os
import subprocess

import pytest

from _testpaths import REPO

HEADER = ["# Copyright: mlperf.storage contributors",
          "# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)"]
FOLDERS = ("plugins", "roles", "bench", "scripts", "tests")

# Files still without the header whose owners add it; a file listed here that has gained the header, or is
# gone, fails test_pending_list_is_current so that the list only shrinks.
PENDING = frozenset("""
roles/python_env/files/tfrecord2idx
scripts/mlperf-verify
tests/_testpaths.py
tests/conftest.py
tests/harness/__init__.py
tests/harness/netns.py
tests/harness/test_netns_offline.py
tests/integration/conftest.py
tests/integration/test_awx_project.py
tests/integration/test_bench_smoke.py
tests/integration/test_checkpointing_replay.py
tests/integration/test_env_lock_airgap.py
tests/integration/test_env_lock_preflight.py
tests/integration/test_installed_collection.py
tests/integration/test_kvcache_replay.py
tests/integration/test_molecule.py
tests/integration/test_netns_harness.py
tests/integration/test_report_html.py
tests/integration/test_telemetry_multihost.py
tests/integration/test_telemetry_role.py
tests/integration/test_training_localhost.py
tests/integration/test_vectordb.py
tests/integration/test_verify_playbook.py
tests/unit/plugins/test_rules_report_callback.py
tests/unit/plugins/test_verify_action.py
tests/unit/rules/_rules_helpers.py
tests/unit/rules/_v20_tree.py
tests/unit/rules/test_rules_api.py
tests/unit/rules/test_rules_checks.py
tests/unit/rules/test_rules_corpus.py
tests/unit/rules/test_rules_editions.py
tests/unit/rules/test_rules_kv_options.py
tests/unit/rules/test_rules_manifest.py
tests/unit/rules/test_rules_mutations.py
tests/unit/rules/test_rules_vdb_backend.py
tests/unit/rules/test_rules_vdb_values.py
tests/unit/test_checkpointing_plan.py
tests/unit/test_checkpointing_standin.py
tests/unit/test_datasize.py
tests/unit/test_dlio.py
tests/unit/test_dlio_engine_pypi.py
tests/unit/test_dlio_output.py
tests/unit/test_engine_and_results.py
tests/unit/test_fs_separation.py
tests/unit/test_kvcache_plan.py
tests/unit/test_kvcache_runner.py
tests/unit/test_lock.py
tests/unit/test_lock_make.py
tests/unit/test_lock_status_module.py
tests/unit/test_mpi.py
tests/unit/test_procfs.py
tests/unit/test_procfs_module.py
tests/unit/test_report.py
tests/unit/test_safe_dir.py
tests/unit/test_sampler.py
tests/unit/test_telemetry.py
tests/unit/test_tfrecord2idx.py
tests/unit/test_vectordb_client.py
tests/unit/test_vectordb_plan.py
tests/unit/test_workloads.py
""".split())


def has_header(text):
    """True when the header lines come first, after an optional shebang and an optional coding line."""
    lines = text.splitlines()
    first = 0
    if lines[first:first + 1] and lines[first].startswith("#!"):
        first += 1
    if lines[first:first + 1] and lines[first].startswith("# -*- coding"):
        first += 1
    return lines[first:first + len(HEADER)] == HEADER


def is_python(path):
    """A .py file, or a script whose shebang runs Python."""
    if path.endswith(".py"):
        return True
    with open(os.path.join(REPO, path), "rb") as handle:
        first = handle.readline(200)
    return first.startswith(b"#!") and b"python" in first


@pytest.fixture(scope="module")
def tracked_python():
    try:
        listed = subprocess.run(["git", "-C", REPO, "ls-files", "-z", "--"] + list(FOLDERS),
                                capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip("not a git checkout, the tracked files are unknown: %s" % exc)
    paths = [p for p in listed.decode("utf-8").split("\0") if p and os.path.isfile(os.path.join(REPO, p))]
    found = sorted(p for p in paths if is_python(p))
    assert any(p.startswith("plugins/modules/") for p in found), "no module found; the listing is wrong"
    return found


def read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
        return handle.read()


def test_tracked_python_files_carry_the_licence_header(tracked_python):
    missing = [p for p in tracked_python if p not in PENDING and not has_header(read(p))]
    assert not missing, "add the two licence header lines at the top of:\n  " + "\n  ".join(missing)


def test_pending_list_is_current(tracked_python):
    tracked = set(tracked_python)
    stale = sorted(p for p in PENDING if p not in tracked or has_header(read(p)))
    assert not stale, "remove from PENDING (gone, or now with the header):\n  " + "\n  ".join(stale)


def test_has_header_reads_the_top_of_the_file():
    body = "\n".join(HEADER) + "\n"
    assert has_header(body)
    assert has_header("#!/usr/bin/python\n# -*- coding: utf-8 -*-\n" + body)
    assert not has_header('"""Docstring first."""\n' + body)
    assert not has_header(HEADER[0] + "\n")
    assert not has_header("")
