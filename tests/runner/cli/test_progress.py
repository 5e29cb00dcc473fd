"""The first run says it compiles the model's kernels (issue 10, item 12); later runs say nothing."""

from __future__ import annotations

import io

from runner.cli.progress import announce_compile


def test_a_cold_kernel_cache_is_announced_and_a_warm_one_is_not(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    out = io.StringIO()
    assert announce_compile(out) is True
    assert "compiling the model's kernels once" in out.getvalue()
    (tmp_path / "models_x").mkdir()
    (tmp_path / "models_x" / "kernel.nbi").write_bytes(b"")
    out = io.StringIO()
    assert announce_compile(out) is False and out.getvalue() == ""
