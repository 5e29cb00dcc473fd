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


# ---------------------------------------------------------------------- python_kernels
# Random draws over the inputs that steer the kernels down different paths: every profile,
# dirty pattern, hot sets, zero pages, storage modes, tiny and huge VMs, slow and fast links.
WIDE = """
name = "pure-vs-compiled"
seed = 13
memory = { loguniform = ["256MiB", "2TiB"] }
dirty_rate = { loguniform = ["100kB/s", "20GB/s"] }
zero_fraction = { uniform = [0.0, 0.9] }
hot_set = { loguniform = ["1MiB", "4GiB"] }
hot_rate = { loguniform = ["1MB/s", "5GB/s"] }
dirty_pattern = { choice = ["random", "sequential"] }
link = { choice = ["100Mbit/s", "1GbE", "10GbE", "100Gbps"] }
rtt = { uniform = [0, 50] }
repeat = 12
[grid]
profile = ["vsphere-5.1", "hyperv-2012", "qemu", "xen", "xen-clark2005"]
[zip]
storage = ["shared", "mirror", "iterative", "shared-nothing"]
disk = ["0GiB", "100GiB", "1TiB", "300GiB"]
disk_write_rate = ["0MB/s", "20MB/s", "80MB/s", "5MB/s"]
"""


def test_python_kernels_give_the_compiled_results_bit_for_bit():
    """The cold-cache path (plain Python kernels) and the compiled path give the same rows."""
    import numpy as np

    from runner.sweep.batch import evaluate
    from runner.sweep.spec import parse_spec

    spec = parse_spec(WIDE, "wide.toml", "wide")
    n = spec.n_points
    with jit.python_kernels():
        pure = evaluate(spec.plan, 0, n)
    compiled = evaluate(spec.plan, 0, n)
    assert n == 5 * 4 * 12 and pure.num_rows == n
    statuses = set(compiled.column("status").to_pylist())
    assert {"completed", "failed"} <= statuses            # several paths were taken
    assert pure.equals(compiled), [c for c in compiled.column_names
                                   if not pure.column(c).equals(compiled.column(c))]
    assert jit.compiled()


def test_python_kernels_compile_nothing_and_restore_the_dispatchers(tmp_path):
    """Run in a fresh process with an empty cache: nothing compiles inside the block, and after it
    the model's globals are numba dispatchers again."""
    import subprocess
    import sys

    code = (
        "import numpy as np, models.jit as jit\n"
        "from models.migration import simulate\n"
        "import models.migration as m, models.precopy as p\n"
        "with jit.python_kernels():\n"
        "    out = simulate({'profile': np.array(['qemu', 'xen'], dtype=object)})\n"
        "    inside = type(m._simulate_rows).__name__\n"
        "print(inside, jit.compiled(), type(m._simulate_rows).__name__, type(p.run_row).__name__,"
        " list(out['status']))\n")
    env = {k: v for k, v in __import__("os").environ.items()}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "empty-cache")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""                                # no RuntimeWarning leaks
    assert res.stdout.split()[:4] == ["function", "False", "CPUDispatcher", "CPUDispatcher"]
