"""Training dataset-size rule (spec 3.4): the dataset must be >= 5x client RAM and cover 500 steps.

The arithmetic lives in plugin_utils._datasize, shared with the training plan; this adapter takes the loosely
typed values a results tree records (floats, strings) and the edition's verification rounding ("floor" for the
v3.0 round, which tolerated datasets made by tools that rounded down; the plan itself always rounds up).
"""
from __future__ import annotations

from .. import _datasize

GIB = _datasize.GIB


def required_training_files(total_memory_bytes, num_processes, record_length_bytes, samples_per_file,
                            batch_size, steps_per_epoch=500, memory_multiplier=5, rounding="floor"):
    """Return a dict with the minimum number of files and which constraint dominated.

    total_memory_bytes: client RAM summed over all hosts; num_processes: simulated accelerators.
    steps_per_epoch and memory_multiplier must be the rules' values (500 and 5); they are kept as arguments so
    that an edition that changes them fails loudly here instead of being computed with the wrong constants.
    """
    if record_length_bytes is None or float(record_length_bytes) <= 0:
        raise ValueError("record_length_bytes must be > 0, got %r" % (record_length_bytes,))
    if samples_per_file is None or float(samples_per_file) <= 0:
        raise ValueError("num_samples_per_file must be > 0, got %r" % (samples_per_file,))
    if (steps_per_epoch, memory_multiplier) != (500, 5):
        raise ValueError("the datasize rule is implemented for 500 steps per epoch and 5x memory, not %r"
                         % ((steps_per_epoch, memory_multiplier),))
    record = float(record_length_bytes)
    calc = _datasize.training_datasize(
        int(total_memory_bytes), int(num_processes), int(record) if record.is_integer() else record,
        int(samples_per_file), int(batch_size), rounding=rounding)
    return {key: calc[key] for key in ("required_files", "files_by_memory", "files_by_steps", "dominant",
                                       "total_disk_bytes")}
