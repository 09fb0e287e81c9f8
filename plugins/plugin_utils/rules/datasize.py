"""Training dataset-size rule (spec 3.4): the dataset must be >= 5x client RAM and cover 500 steps."""
from __future__ import annotations

import math

GIB = 1024 ** 3


def required_training_files(total_memory_bytes, num_processes, record_length_bytes, samples_per_file,
                            batch_size, steps_per_epoch=500, memory_multiplier=5, rounding="floor"):
    """Return a dict with the minimum number of files and which constraint dominated.

    total_memory_bytes: client RAM summed over all hosts; num_processes: simulated accelerators.
    rounding: "floor" (v2.0 and the v3.0 round) or "ceil" (later v3 tools).
    """
    if record_length_bytes is None or record_length_bytes <= 0:
        raise ValueError("record_length_bytes must be > 0, got %r" % (record_length_bytes,))
    if samples_per_file is None or samples_per_file <= 0:
        raise ValueError("num_samples_per_file must be > 0, got %r" % (samples_per_file,))
    file_bytes = samples_per_file * record_length_bytes
    by_memory_exact = memory_multiplier * total_memory_bytes / file_bytes
    by_memory = int(math.ceil(by_memory_exact)) if rounding == "ceil" else int(math.floor(by_memory_exact))
    min_samples = steps_per_epoch * num_processes * batch_size
    by_steps = int(min_samples // samples_per_file)
    required = max(by_memory, by_steps)
    return {
        "required_files": required,
        "files_by_memory": by_memory,
        "files_by_steps": by_steps,
        "dominant": "memory" if by_memory >= by_steps else "steps",
        "total_disk_bytes": int(required * file_bytes),
    }
