"""Keep glibc's allocator from handing TensorFlow's training buffers back to the kernel after
every step, which made `model.fit` epochs on the CPU slow and uneven.

A training step allocates and frees the same large activation and gradient buffers every time.
glibc serves allocations above its mmap threshold with fresh mmap() calls and unmaps them when
they are freed; it normally raises that threshold as it sees large blocks freed, so that they are
reused from the heap. TensorFlow's generator dataset (the one `model.fit` builds from a PyDataset)
calls mallopt(M_TRIM_THRESHOLD, 128 KiB) when it starts, which also switches that adjustment off:
from then on every step maps, faults in and unmaps hundreds of MB again. On the 2-core
development CPU that cost 60,000-95,000 page faults and 0.2-0.3 s of kernel time per step, and
the compute threads then waited on each other's page faults, leaving the CPUs up to 29% idle
(`python bench/bench_train.py --compare-allocator`).

keep_freed_memory() sets both thresholds high again. It has to run after TensorFlow's call, so
training_batches.fit_epochs re-applies it before every step (a microsecond's work). The heap then keeps up
to TRIM_THRESHOLD_BYTES of freed memory for reuse instead of returning it.
"""

import ctypes
import ctypes.util
import functools

# glibc's mallopt() parameter numbers (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# The largest mmap threshold glibc accepts on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX).
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
# Free memory at the top of the heap that glibc keeps rather than returns to the kernel.
TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024


@functools.cache
def glibc_mallopt():
    """glibc's mallopt function, or None where the C library is not glibc (macOS, Windows, musl)."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        return None
    if mallopt is not None:
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def keep_freed_memory():
    """Raise glibc's mmap and trim thresholds so that freed training buffers are reused; returns
    True when both were set, False where there is no glibc (nothing to do there)."""
    mallopt = glibc_mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


def tensorflow_default():
    """Put back the allocator as a fresh training process has it after TensorFlow's call: both
    thresholds at 128 KiB (glibc's starting mmap threshold, which no longer rises), for the
    comparison in bench/bench_train.py."""
    mallopt = glibc_mallopt()
    return (
        mallopt is not None
        and bool(mallopt(M_MMAP_THRESHOLD, 128 * 1024))
        and bool(mallopt(M_TRIM_THRESHOLD, 128 * 1024))
    )
