"""``migsim plot RUN xy|cdf``: generic figures of any run, through the installed command."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.plots.generic import axis_label


def one_line_error(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("migsim: error: "), \
        res.stderr
    return lines[0]


@pytest.mark.parametrize("args", [
    ["xy", "--x", "dirty_rate", "--y", "downtime_ms"],
    ["xy", "--x", "dirty_rate", "--y", "total_time_s", "--color", "link", "--facet", "profile"],
    ["xy", "--x", "profile", "--y", "transferred_bytes", "--color", "storage"],
    ["xy", "--x", "link_bps", "--y", "downtime_ms", "--where", "profile = 'qemu'"],
    ["cdf", "--y", "downtime_ms", "--color", "profile"],
    ["cdf", "--y", "total_time_s"],
])
def test_generic_figures_are_drawn(small_run: Path, tmp_path: Path, run_cli, args) -> None:
    out = tmp_path / "fig.png"
    res = run_cli(["plot", small_run, *args, "--out", out])
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_titles_name_the_filter_the_fixed_and_the_pooled_inputs(small_run: Path,
                                                                tmp_path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from runner.plots import generic

    captured = {}
    real = generic.save_figure

    def keep(fig, out):
        captured["title"] = fig._suptitle.get_text()
        captured["labels"] = [(a.get_xlabel(), a.get_ylabel(), a.get_xscale())
                              for a in fig.axes if a.get_visible()]
        real(fig, out)

    generic.save_figure = keep
    try:
        generic.xy(small_run, tmp_path / "a.png", "dirty_rate", "downtime_ms",
                   where="profile = 'xen'")
    finally:
        generic.save_figure = real
        plt.close("all")
    title = captured["title"]
    assert "where profile = 'xen'" in title
    assert "memory=8 GiB" in title                         # fixed in the spec
    assert "medians (band 10-90 %) over" in title and "link_bps" in title   # pooled
    assert "without downtime_ms: null" in title or "rows" in title
    assert captured["labels"][0] == ("dirty_rate_Bps (bytes/s)", "downtime_ms (ms) (median)", "log")


def test_axis_labels_spell_the_unit() -> None:
    assert axis_label("downtime_ms") == "downtime_ms (ms)"
    assert axis_label("memory_bytes") == "memory_bytes (bytes)"
    assert axis_label("link_bps") == "link_bps (bit/s)" and axis_label("dirty_rate_Bps").endswith(
        "(bytes/s)")


@pytest.mark.parametrize("args, words", [
    (["xy", "--y", "downtime_ms"], "needs --x"),
    (["cdf"], "needs --y"),
    (["xy", "--x", "dirty_rate", "--y", "speed"], "--y: unknown field 'speed'"),
    (["xy", "--x", "dirty_rate", "--y", "profile"], "is not numeric"),
    (["cdf", "--y", "downtime_ms", "--x", "link"], "--x: not an option of plot cdf"),
    (["time", "--y", "downtime_ms"], "--y: not an option of plot time"),
    (["convergence", "--color", "link"], "allowed: verdict, downtime"),
    (["cdf", "--y", "downtime_ms", "--where", "profile = 'none'"], "no rows match"),
])
def test_bad_generic_plots_are_one_line(small_run: Path, tmp_path: Path, run_cli, args,
                                        words) -> None:
    out = tmp_path / "bad.png"
    line = one_line_error(run_cli(["plot", small_run, *args, "--out", out]))
    assert words in line, line
    assert not out.exists()
