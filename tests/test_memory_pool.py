"""The command line's choice of Arrow allocator (``cli.use_jemalloc``): jemalloc where pyarrow has it, the user's
``ARROW_DEFAULT_MEMORY_POOL`` otherwise; and numpy without transparent huge pages unless the user asks for them
(``NUMPY_MADVISE_HUGEPAGE``). Checked in fresh processes: both are chosen once per process, as the libraries load."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

PROBE = "import transportmon.cli, pyarrow as pa; print(pa.default_memory_pool().backend_name)"


def _pool(env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True,
                          check=True, timeout=120)
    return done.stdout.strip()


def _has_jemalloc() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True


def test_the_command_line_uses_jemalloc_where_pyarrow_has_it() -> None:
    assert _pool({}) == ("jemalloc" if _has_jemalloc() else pa.default_memory_pool().backend_name)


@pytest.mark.parametrize("chosen", ["system", "mimalloc"])
def test_a_users_own_pool_wins(chosen: str) -> None:
    assert _pool({"ARROW_DEFAULT_MEMORY_POOL": chosen}) == chosen


HUGE = ("import transportmon.cli, numpy; from numpy._core.multiarray import _get_madvise_hugepage; "
        "print(_get_madvise_hugepage())")


@pytest.mark.parametrize(("given", "used"), [(None, "False"), ("0", "False"), ("1", "True")])
def test_the_command_line_asks_numpy_for_no_huge_pages_unless_the_user_does(given: str | None, used: str) -> None:
    """Set before numpy loads (the command line's imports do not load it before): the setting takes effect."""
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if given is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = given
    done = subprocess.run([sys.executable, "-c", HUGE], env=env, capture_output=True, text=True, check=True,
                          timeout=120)
    assert done.stdout.strip() == used
