"""The shared corpora (../shared/corpora, or NEWSBEAM_CORPORA) unpacked for a test, which is skipped without them."""
from pathlib import Path

import pytest

from benchmarks import eval_extraction as ev


def unpacked_corpus(name: str, tmp_path_factory) -> Path:
    """The archive `name` unpacked into a new temporary folder; its top folder."""
    archive = ev.CORPORA / name
    if not archive.exists():
        pytest.skip(f"{archive} not found (the shared corpora sit next to the repository in CI; NEWSBEAM_CORPORA "
                    f"points elsewhere)")
    return ev.unpack(archive, tmp_path_factory.mktemp("corpora"))
