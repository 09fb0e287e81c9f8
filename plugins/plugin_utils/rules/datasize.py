# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Training dataset-size rule (spec 3.4): the dataset must be >= 5x client RAM and cover 500 steps.

The arithmetic lives in plugin_utils._datasize, shared with the training plan; this adapter takes the loosely
typed values a results tree records (floats, strings) and the edition's constants and verification rounding
(Edition.accepted_datasize_rounding: "floor" for the v3.0 round, which tolerated datasets made by tools that
rounded down; a plan rounds as Edition.datasize_rounding says).
"""
from __future__ import annotations

from .. import _datasize
from .edition import DEFAULT_EDITION, load_edition

# _datasize.GIB; not read from it here, because importing _datasize first imports this module before
# _datasize has its attributes (it reads the editions through the rules package).
GIB = 1024 ** 3


def required_training_files(total_memory_bytes, num_processes, record_length_bytes, samples_per_file,
                            batch_size, steps_per_epoch=None, memory_multiplier=None, rounding=None, edition=None):
    """Return a dict with the minimum number of files and which constraint dominated.

    total_memory_bytes: client RAM summed over all hosts; num_processes: simulated accelerators.
    steps_per_epoch, memory_multiplier and rounding default to those of ``edition`` (the default edition when
    None): its constants and the rounding its verifier accepts.
    """
    if record_length_bytes is None or float(record_length_bytes) <= 0:
        raise ValueError("record_length_bytes must be > 0, got %r" % (record_length_bytes,))
    if samples_per_file is None or float(samples_per_file) <= 0:
        raise ValueError("num_samples_per_file must be > 0, got %r" % (samples_per_file,))
    ed = load_edition(edition or DEFAULT_EDITION)
    record = float(record_length_bytes)
    calc = _datasize.training_datasize(
        int(total_memory_bytes), int(num_processes), int(record) if record.is_integer() else record,
        int(samples_per_file), int(batch_size),
        rounding=ed.accepted_datasize_rounding() if rounding is None else rounding,
        steps_per_epoch=ed.steps_per_epoch() if steps_per_epoch is None else steps_per_epoch,
        memory_multiplier=ed.memory_multiplier() if memory_multiplier is None else memory_multiplier)
    return {key: calc[key] for key in ("required_files", "files_by_memory", "files_by_steps", "dominant",
                                       "total_disk_bytes")}
