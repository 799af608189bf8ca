"""How glibc's malloc treats large transient buffers, per process.

glibc serves an allocation above its *mmap threshold* with an ``mmap`` of its
own, unmapped on ``free``; it raises that threshold to the size of each such
block freed (up to 32 MiB), and gives heap memory above the *trim threshold*
back to the operating system. Two processes of Stepline want opposite things:

* The local runtime (:func:`return_large_buffers`) runs in one process what
  AWS spreads over many: a Lambda handler, moto's S3 answering it in-process,
  the executions' threads. moto and botocore handle request bodies as whole
  ``bytes`` (an 8 MiB upload part is built up and copied several times), from
  many threads; once the threshold has risen those buffers stay in the thread
  arenas, fragmented: validating a 200 MiB file locally peaked at 484 MiB
  instead of 342 MiB. A threshold fixed at 1 MiB keeps every large buffer an
  ``mmap`` of its own.
* A validation process (:func:`keep_freed_buffers`: ``stepline validate``; the
  Lambda gets the same through ``MALLOC_*`` variables in ``template.yaml``)
  scans 2 MiB blocks on two threads, and each scan allocates and frees about
  20 blocks' worth of numpy temporaries. With glibc's defaults the freed heap
  above the trim threshold goes back to the system and comes back as fresh
  pages on the next block (page faults, and the kernel's memory-map lock the
  two threads share). With the thresholds below, ``stepline validate`` of the
  200 MB bench file took 0.92x the wall time and 0.94x the CPU (12 runs of
  each in turns, 2026-12-02; README "Performance"), at the same peak RSS,
  since the memory kept is the working set the next block reuses.

Each is what the ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``
environment variables set at start-up, applied with ``mallopt`` once the
process knows what it is. Elsewhere than glibc they do nothing.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Final

#: glibc's ``mallopt`` parameters.
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
#: The local runtime's mmap threshold.
MMAP_THRESHOLD_BYTES: Final = 1024 * 1024
#: A validation process's thresholds: glibc's largest dynamic mmap threshold
#: (blocks and scan temporaries stay in the heap), and a trim threshold above a
#: validation's whole working set (about 100 MiB at the peak).
VALIDATION_MMAP_THRESHOLD_BYTES: Final = 32 * 1024 * 1024
VALIDATION_TRIM_THRESHOLD_BYTES: Final = 128 * 1024 * 1024


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    # The process's own symbols, which hold the C library's: ctypes.util.find_library
    # would run a subprocess (about 18 ms of a `stepline validate` start).
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # TypeError: Windows takes no None
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


@functools.cache
def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold at 1 MiB for this process (once); whether it applied."""
    mallopt = _mallopt()
    return mallopt is not None and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


@functools.cache
def keep_freed_buffers() -> bool:
    """Keep freed buffers for reuse in this validation process (once); whether it applied.

    For processes that only validate: not the local runtime, which keeps
    :func:`return_large_buffers`.
    """
    mallopt = _mallopt()
    if mallopt is None:
        return False
    # Both, and the mmap threshold first: fixing either stops glibc's dynamic one.
    return bool(mallopt(_M_MMAP_THRESHOLD, VALIDATION_MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, VALIDATION_TRIM_THRESHOLD_BYTES)
    )
