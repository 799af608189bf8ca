"""A validation process keeps the memory its scan frees (glibc's malloc).

The columnar validator scans 2 MiB blocks on two threads, and each scan
allocates and frees about 20 blocks' worth of numpy temporaries. glibc serves
an allocation above its *mmap threshold* with an ``mmap`` of its own, unmapped
on ``free`` (it raises that threshold to the size of each such block freed, up
to 32 MiB), and gives heap memory above its *trim threshold* back to the
operating system. So with its defaults the freed memory goes back to the
system and comes back as fresh pages for the next block: page faults, which
the two threads also serialise on the kernel's memory-map lock.

:func:`keep_freed_buffers` sets both thresholds for a process that only
validates: ``stepline validate`` and the Glue validation job call it; the
Lambda gets the same from ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` in its environment (``template.yaml``: glibc reads
them at start-up, before any handler code). ``stepline validate`` of the 200 MB
bench file then took 0.92x the wall time and 0.94x the CPU (12 runs of each in
turns, 2026-12-02; README "Performance"), at the same peak RSS, since the
memory kept is the working set the next block reuses. Not for the local
runtime, which runs the handler in a process of its own policy
(``stepline/malloc.py``). Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Final

#: glibc's ``mallopt`` parameters.
M_TRIM_THRESHOLD: Final = -1
M_MMAP_THRESHOLD: Final = -3
#: glibc's largest dynamic mmap threshold (blocks and scan temporaries stay in
#: the heap), and a trim threshold above a validation's whole working set
#: (about 100 MiB at the peak).
VALIDATION_MMAP_THRESHOLD_BYTES: Final = 32 * 1024 * 1024
VALIDATION_TRIM_THRESHOLD_BYTES: Final = 128 * 1024 * 1024


@functools.cache
def mallopt() -> Callable[[int, int], int] | None:
    """The C library's ``mallopt``, or None where there is none."""
    # The process's own symbols, which hold the C library's: ctypes.util.find_library
    # would run a subprocess (about 18 ms of a `stepline validate` start).
    try:
        function = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # TypeError: Windows takes no None
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int]
    function.restype = ctypes.c_int
    return function


@functools.cache
def keep_freed_buffers() -> bool:
    """Keep freed buffers for reuse in this validation process (once); whether it applied."""
    function = mallopt()
    if function is None:
        return False
    # Both, and the mmap threshold first: fixing either stops glibc's dynamic one.
    return bool(function(M_MMAP_THRESHOLD, VALIDATION_MMAP_THRESHOLD_BYTES)) and bool(
        function(M_TRIM_THRESHOLD, VALIDATION_TRIM_THRESHOLD_BYTES)
    )
