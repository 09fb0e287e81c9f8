# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting in tests for something another process does."""
import time


def wait_for(predicate, timeout, interval=0.3):
    """Calls ``predicate`` every ``interval`` seconds until it gives a true value or ``timeout`` seconds have
    passed; returns its last value (one more call after the deadline, so a slow last step is not missed)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
