"""Compiled kernels are cached under a key of all of models/: an edit anywhere recompiles."""

import shutil
from pathlib import Path

import models.jit as jit


def test_cache_directory_follows_every_model_source(tmp_path, monkeypatch):
    src = tmp_path / "models"
    src.mkdir()
    for p in Path(jit.__file__).parent.glob("*.py"):
        shutil.copy(p, src / p.name)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    before = jit._cache_dir(src)
    assert before is not None and Path(before).parent == src / "__pycache__"
    assert jit._cache_dir(src) == before
    # a change to a kernel that others inline (numba's own cache would not notice it)
    w = src / "workload.py"
    w.write_text(w.read_text() + "\n# edited\n")
    after = jit._cache_dir(src)
    assert after != before and Path(after).is_dir()
