"""The first run of a model version (an empty kernel cache, right after an install) starts at once:
a small run computes with the Python form of the kernels — the same results — and says so; a warm
cache says nothing (issue 10, item 12; issue 13: a fast first run)."""

from __future__ import annotations

import io
import json
import subprocess

from runner.cli.progress import PYTHON_MAX_POINTS, compile_kernels, warm_model
from tests.conftest import REPO, cli_env, migsim_command


def test_a_warm_cache_says_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    (tmp_path / "models_x").mkdir()
    (tmp_path / "models_x" / "kernel.nbi").write_bytes(b"")
    out = io.StringIO()
    with warm_model(out, n_points=10):
        pass
    assert out.getvalue() == ""


def test_a_first_migrate_runs_without_compiling_and_gives_the_same_answer(tmp_path):
    args = ["migrate", "--profile", "qemu", "--memory", "8G", "--dirty-rate", "300MB/s",
            "--link", "10GbE", "--json"]
    cold = subprocess.run(migsim_command() + args, capture_output=True, text=True, timeout=120,
                          env=cli_env(NUMBA_CACHE_DIR=str(tmp_path / "empty"),
                                      MIGSIM_BACKGROUND_COMPILE="0"))
    assert cold.returncode == 0, cold.stderr
    assert "computing without compiled kernels" in cold.stderr
    assert not list((tmp_path / "empty").rglob("*.nbi"))           # nothing was compiled
    compile_kernels()          # the reference: compiled kernels (loaded if already cached)
    warm = subprocess.run(migsim_command() + args, capture_output=True, text=True, timeout=300,
                          env=cli_env())
    assert warm.returncode == 0 and "without compiled" not in warm.stderr, warm.stderr
    assert json.loads(cold.stdout) == json.loads(warm.stdout)


def test_a_first_small_sweep_runs_without_compiling_and_gives_the_same_rows(tmp_path):
    spec = REPO / "sweeps" / "quickstart.toml"
    assert 72 <= PYTHON_MAX_POINTS
    cold = subprocess.run(migsim_command() + ["sweep", spec, "--out", tmp_path / "cold",
                                              "--no-progress"],
                          capture_output=True, text=True, timeout=300,
                          env=cli_env(NUMBA_CACHE_DIR=str(tmp_path / "empty"),
                                      MIGSIM_BACKGROUND_COMPILE="0"))
    assert cold.returncode == 0, cold.stderr
    assert "computing without compiled kernels" in cold.stderr
    assert not list((tmp_path / "empty").rglob("*.nbi"))
    compile_kernels()
    warm = subprocess.run(migsim_command() + ["sweep", spec, "--out", tmp_path / "warm",
                                              "--no-progress"],
                          capture_output=True, text=True, timeout=300, env=cli_env())
    assert warm.returncode == 0, warm.stderr
    import runner
    assert runner.load(tmp_path / "cold").collect().equals(runner.load(tmp_path / "warm").collect())
