"""Figures: real PNGs with the expected panels; clear errors when there is nothing to draw."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import pytest

from runner.errors import QueryError
from runner.plots import KINDS, plot


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_writes_a_png(tmp_path: Path, small_run: Path, kind: str) -> None:
    out = plot(small_run, kind, tmp_path / f"{kind}.png")
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
