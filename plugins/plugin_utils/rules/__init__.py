# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MLPerf Storage rules engine (controller side).

Plain Python, data-driven: editions (``editions/*.yaml``) hold the tables, ``checks/`` holds the
small check functions, ``engine`` loads runs, runs the checks and reduces them to verdicts.
"""
from .edition import EditionError, available_editions, load_edition
from .engine import Report, classify_planned_run, verify_run_dir, verify_tree
from .issues import CLOSED, INVALID, OPEN, Issue

__all__ = [
    "verify_tree", "verify_run_dir", "classify_planned_run", "load_edition", "available_editions",
    "EditionError", "Issue", "Report", "CLOSED", "OPEN", "INVALID",
]
