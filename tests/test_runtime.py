import subprocess
import sys

import pytest

from newsbeam import runtime

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc arenas are Linux-only")


def test_sets_the_limit_for_this_process_and_its_workers(monkeypatch):
    monkeypatch.setenv(runtime.ARENA_ENV, "placeholder")  # so that monkeypatch restores the variable afterwards
    monkeypatch.delenv(runtime.ARENA_ENV)
    assert runtime.limit_malloc_arenas() is True
    child = subprocess.run([sys.executable, "-c", f"import os; print(os.environ['{runtime.ARENA_ENV}'])"],
                           capture_output=True, text=True, check=True)
    assert child.stdout.strip() == str(runtime.LOCAL_ARENAS)


def test_a_value_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv(runtime.ARENA_ENV, "8")
    assert runtime.limit_malloc_arenas() is False
    import os

    assert os.environ[runtime.ARENA_ENV] == "8"
