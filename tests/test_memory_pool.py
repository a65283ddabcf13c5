"""The command line's choice of Arrow allocator (``cli.use_jemalloc``): jemalloc where pyarrow has it, the user's
``ARROW_DEFAULT_MEMORY_POOL`` otherwise. Checked in fresh processes: the pool is chosen once per process."""

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
