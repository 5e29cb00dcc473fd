"""Figures: real PNGs with the expected panels; clear errors when there is nothing to draw."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import pytest

from runner.errors import QueryError
from runner.plots.charts import KINDS, context, plot
from runner.sweep.spec import parse_spec
from tests.runner.conftest import build_run

SIZES_SPEC = """
name = "sizes"
[grid]
profile = ["vsphere-5.1", "qemu"]
memory = ["2GiB", "8GiB", "32GiB"]
dirty_rate = ["10MB/s", "100MB/s"]
"""


@pytest.fixture(scope="module")
def sizes_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs") / "sizes"
    build_run(parse_spec(SIZES_SPEC, "sizes.toml", "sizes"), root)
    return root


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_writes_a_png(tmp_path: Path, small_run: Path, sizes_run: Path, kind: str) -> None:
    out = plot(sizes_run if kind == "traffic" else small_run, kind, tmp_path / f"{kind}.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(out)
    assert img.shape[0] > 400 and img.shape[1] > 600
    assert img.std() > 0.05  # not a blank canvas


def test_convergence_by_downtime_and_filters(tmp_path: Path, small_run: Path) -> None:
    plot(small_run, "convergence", tmp_path / "d.png", color="downtime")
    plot(small_run, "time", tmp_path / "q.svg", where="profile = 'qemu'", title="QEMU")
    assert (tmp_path / "q.svg").read_text().lstrip().startswith("<?xml")


def test_plot_errors(tmp_path: Path, small_run: Path) -> None:
    with pytest.raises(QueryError, match="kind"):
        plot(small_run, "pie", tmp_path / "x.png")
    with pytest.raises(QueryError, match=r"\.png"):
        plot(small_run, "time", tmp_path / "x.gif")
    with pytest.raises(QueryError, match="no points"):
        plot(small_run, "time", tmp_path / "x.png", where="memory_bytes < 0")
    with pytest.raises(QueryError, match="does not exist"):
        plot(small_run, "time", tmp_path / "nope" / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("kind, run, needs", [
    ("traffic", "small_run", "VM memory"),           # the small run has one memory size
    ("convergence", "sizes_run", "link speed"),      # ... and this one a single link speed
    ("time", "small_run", "page-dirty rate"),
])
def test_a_figure_refuses_a_run_without_its_axes(tmp_path: Path, request, kind, run, needs) -> None:
    """Issue 10, item 13: convergence on a run without the axes drew one solid rectangle."""
    where = "dirty_rate_Bps < 2e7" if kind == "time" else None
    with pytest.raises(QueryError, match=needs):
        plot(request.getfixturevalue(run), kind, tmp_path / "x.png", where=where)
    assert not (tmp_path / "x.png").exists()


def test_titles_name_the_filter_the_fixed_inputs_and_what_was_pooled() -> None:
    import polars as pl

    df = pl.DataFrame({"profile": ["qemu"] * 4, "memory_bytes": [8.0 * 2**30] * 4,
                       "dirty_rate_Bps": [1e6, 1e7, 1e6, 1e7], "link_bps": [1e9, 1e9, 1e10, 1e10],
                       "rtt_ms": [0.5, 0.5, 0.5, 0.5], "nics": [1, 1, 2, 2]})
    text = context(df, ["profile", "dirty_rate_Bps", "link_bps"], "profile = 'qemu'")
    assert "where profile = 'qemu'" in text
    assert "memory=8 GiB" in text and "rtt=0.5 ms" in text
    assert "medians over nics" in text and "dirty_rate" not in text
