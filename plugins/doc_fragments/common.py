# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module of the collection documents the same way: its authors and what its attributes mean.

A module extends C(mlperf.storage.common) and then states only its own support levels (and details), or extends
one of the check-mode fragments when its check-mode behaviour is the common one.
"""
from __future__ import annotations


class ModuleDocFragment:

    # Every module. No module of the collection returns a diff.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Whether the module runs with C(--check), and what it does then instead of changing anything.
  diff_mode:
    description: Whether the module reports what it changed as a diff with C(--diff).
    support: none
author:
  - mlperf.storage contributors (!UNKNOWN)
"""

    # Modules that only look (or that honour check mode by writing nothing).
    CHECK_MODE_FULL = r"""
attributes:
  check_mode:
    support: full
    details: In check mode the module reads and reports as it always does and writes nothing.
"""

    # Modules that change the host and cannot say what they would change without doing it.
    CHECK_MODE_NONE = r"""
attributes:
  check_mode:
    support: none
    details: The module changes the host; in check mode the task is skipped.
"""

    # Modules that return host facts.
    FACTS = r"""
attributes:
  facts:
    description: The module returns C(ansible_facts), which become facts of the host it ran on.
    support: full
"""

    # Modules whose work is done on the controller by the action plugin of the same name.
    CONTROLLER = r"""
attributes:
  action:
    description: The action plugin of the same name does the work on the controller; the module file is its
      documentation.
    support: full
  platform:
    description: Where the work is done.
    support: full
    platforms: posix
"""
