"""The local runtime gives large transient buffers back to the system at once (glibc's malloc).

The local runtime runs in one process what AWS spreads over many: a Lambda
handler, moto's S3 answering it in-process, the executions' threads. moto
and botocore handle request bodies as whole ``bytes`` (an 8 MiB upload part
is built up and copied several times), from many threads. glibc serves
allocations above its mmap threshold with ``mmap`` and returns them on
``free``, but it raises that threshold to the size of each such block freed
(up to 32 MiB), after which the same buffers come from the thread arenas and
stay there, fragmented: validating a 200 MiB file locally peaked at 484 MiB
instead of 342 MiB. Fixing the threshold at 1 MiB (``mallopt``, as the
``MALLOC_MMAP_THRESHOLD_`` environment variable would at start-up) keeps
every large buffer an ``mmap`` of its own. Elsewhere than glibc this does
nothing. (A process that only validates wants the opposite:
:mod:`sales_contract.allocator`.)
"""

from __future__ import annotations

import functools
from typing import Final

from sales_contract.allocator import M_MMAP_THRESHOLD, mallopt

MMAP_THRESHOLD_BYTES: Final = 1024 * 1024


@functools.cache
def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold at 1 MiB for this process (once); whether it applied."""
    function = mallopt()
    return function is not None and bool(function(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
