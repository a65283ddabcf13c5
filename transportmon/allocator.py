"""How the command-line process allocates memory: set once, as the command loads, before numpy and pyarrow do.

An audit of millions of stop rows allocates and frees gigabytes of short-lived arrays. On a virtual machine a page
handed back to the system costs a fault — and often a host fault — when it is touched again, so what matters is that
freed memory is used again, not returned:

- **C library (glibc).** By default arrays of more than 32 MiB are mapped for themselves and unmapped when freed, the
  top of the heap is returned once 128 KiB of it is free, and each thread may get an arena of its own, whose freed
  memory only threads of that arena use again. :func:`tune_malloc` keeps big arrays in the heap, never trims it and
  allows two arenas (the main thread's, one shared by the helper threads: one arena made them wait on each other).
  At ten million stop rows: 1.2 → 0.6 million page faults, system time 2.4 → 1.4 s, wall 7.8 → 7.4 s after a DuckDB
  run (benchmarks/RESULTS.md), 0.1–0.3 GB more at peak. The memory is held until the command ends, which is what a
  command wants (the API, the notebooks and the Dask workers are not changed).
- **Arrow.** Arrow's own allocators (jemalloc, mimalloc) cache and purge on their own schedules: jemalloc, even
  told never to purge, faulted as many pages as before; mimalloc took 5 s of system time. Where glibc is tuned, Arrow
  allocates from it too (its ``system`` pool); elsewhere it uses jemalloc where the pyarrow build has it.
- **numpy** asks for transparent huge pages for arrays of 4 MiB or more; where they are given on request (the common
  ``madvise`` setting) each fault may compact memory first and clears 2 MiB: 1.3 s more system time at ten million
  stop rows. Asked for ordinary pages.

A user's own choice wins: ``ARROW_DEFAULT_MEMORY_POOL``, ``MIMALLOC_PURGE_DELAY``, ``NUMPY_MADVISE_HUGEPAGE``, and any
``MALLOC_*`` variable or ``glibc.malloc`` tunable (glibc is then left as the user set it).
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["ARENAS", "prepare_process", "tune_malloc", "use_pool"]

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
#: malloc arenas allowed: the main thread's and one the helper threads share.
ARENAS = 2
#: Free memory at the top of the heap before it is returned (mallopt takes an int: the largest, 2 GiB).
TRIM_BYTES = 2**31 - 1


def prepare_process() -> str:
    """Set the process's allocators as the module docstring says; Arrow's pool's name. Before numpy loads."""
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")  # a user's mimalloc keeps what it frees
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    return use_pool(tune_malloc())


def _user_tuned_malloc() -> bool:
    return any(k.startswith("MALLOC_") for k in os.environ) or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "")


def tune_malloc() -> bool:
    """Keep freed memory for reuse in glibc's malloc (see the module docstring); whether it was done (not on other C
    libraries, nor when the user tuned malloc)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or _user_tuned_malloc():
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # pragma: no cover - a glibc process has it
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in (
        (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, TRIM_BYTES), (M_ARENA_MAX, ARENAS)))


def use_pool(malloc_tuned: bool) -> str:
    """Arrow's default memory pool: the user's ``ARROW_DEFAULT_MEMORY_POOL``, else the C library's where it was
    tuned, else jemalloc where pyarrow has it; its name."""
    import pyarrow as pa

    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        try:
            pa.set_memory_pool(pa.system_memory_pool() if malloc_tuned else pa.jemalloc_memory_pool())
        except NotImplementedError:  # Windows wheels are built without jemalloc
            pass
    return pa.default_memory_pool().backend_name
