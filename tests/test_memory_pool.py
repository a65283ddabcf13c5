"""How the command-line process allocates (``transportmon.allocator``): glibc's malloc keeps what is freed for reuse,
Arrow allocates from it (jemalloc where glibc is not tuned), numpy asks for no transparent huge pages — each unless
the user chose otherwise. Checked in fresh processes: all are set once per process, as the libraries load."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pyarrow as pa
import pytest

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
MINE = ("ARROW_DEFAULT_MEMORY_POOL", "NUMPY_MADVISE_HUGEPAGE", "GLIBC_TUNABLES")


def _run(code: str, env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if k not in MINE and not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                          check=True, timeout=120)
    return done.stdout.strip()


POOL = "import transportmon.cli, pyarrow as pa; print(pa.default_memory_pool().backend_name)"


def _has_jemalloc() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True


def _untuned_pool() -> str:
    return "jemalloc" if _has_jemalloc() else pa.default_memory_pool().backend_name


def test_the_command_line_puts_arrow_on_the_tuned_c_library_else_jemalloc() -> None:
    assert _run(POOL, {}) == ("system" if GLIBC else _untuned_pool())


def test_a_user_tuning_malloc_keeps_arrows_jemalloc() -> None:
    """glibc left as the user set it: then Arrow keeps an allocator that caches on its own."""
    assert _run(POOL, {"MALLOC_ARENA_MAX": "4"}) == _untuned_pool()
    assert _run(POOL, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000000"}) == _untuned_pool()


@pytest.mark.parametrize("chosen", ["system", "mimalloc"])
def test_a_users_own_pool_wins(chosen: str) -> None:
    assert _run(POOL, {"ARROW_DEFAULT_MEMORY_POOL": chosen}) == chosen


# Page faults of filling a 64 MiB array again after it was freed: none where the memory was kept (a few for the
# interpreter's own objects), one per 4 KiB page (16,384) where it went back to the system.
REFILL = """
import resource, transportmon.cli, numpy as np
def faults(): return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(1 << 23); del a
before = faults(); b = np.ones(1 << 23); print(faults() - before)
"""
PAGES = (1 << 26) // 4096


def test_freed_memory_is_used_again_not_returned_and_faulted_back() -> None:
    if not GLIBC:  # other C libraries are left as they are
        assert _run("import transportmon.allocator as a; print(a.tune_malloc())", {}) == "False"
        return
    assert int(_run(REFILL, {})) < PAGES // 20


def test_a_users_malloc_settings_are_left_alone() -> None:
    """With the user's MALLOC_ARENA_MAX, glibc keeps its default: a 64 MiB array is mapped for itself, unmapped when
    freed and faulted in again."""
    assert _run("import transportmon.allocator as a; print(a.tune_malloc())", {"MALLOC_ARENA_MAX": "8"}) == "False"
    if GLIBC:
        assert int(_run(REFILL, {"MALLOC_ARENA_MAX": "8"})) >= PAGES * 9 // 10


HUGE = ("import transportmon.cli, numpy; from numpy._core.multiarray import _get_madvise_hugepage; "
        "print(_get_madvise_hugepage())")


@pytest.mark.parametrize(("given", "used"), [(None, "False"), ("0", "False"), ("1", "True")])
def test_the_command_line_asks_numpy_for_no_huge_pages_unless_the_user_does(given: str | None, used: str) -> None:
    """Set before numpy loads (the command line's imports do not load it before): the setting takes effect."""
    assert _run(HUGE, {} if given is None else {"NUMPY_MADVISE_HUGEPAGE": given}) == used
