"""``migsim report``: one self-contained HTML file per run. The heavy test opens it in a real
headless Chromium (Debian's ``chromium``; .ci/run installs it) and checks that it loads with no
console error and no network request, that every figure decodes, and that the screenshot shows
a plot."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from runner.plots.report import write
from tests.runner.plots import browser


def test_the_report_is_self_contained(small_run: Path, tmp_path: Path, run_cli) -> None:
    out = tmp_path / "report.html"
    res = run_cli(["report", small_run, "--out", out])
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    # nothing outside the file: no src/href to another file or the network, no script
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:)""", text)
    assert "<script" not in text and "@import" not in text and "url(" not in text
    imgs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(imgs) >= 3                            # convergence, time, CDFs of the small run
    # the spec, the run's metadata and a summary row per profile are in it
    assert "name = &quot;small&quot;" in text and small_run.name in text
    for p in ("vsphere-5.1", "hyperv-2012", "qemu", "xen"):
        assert f">{p}<" in text
    assert "Traffic: plot traffic: the run has one value of VM memory" in text   # said, not drawn


def test_report_refuses_a_non_html_out_and_a_non_run(small_run: Path, tmp_path: Path,
                                                     run_cli) -> None:
    bad = run_cli(["report", small_run, "--out", tmp_path / "r.png"])
    assert bad.returncode == 2 and "allowed: a file ending in .html" in bad.stderr
    (tmp_path / "empty").mkdir()
    none = run_cli(["report", tmp_path / "empty", "--out", tmp_path / "r.html"])
    assert none.returncode == 2 and "is not a migsim run" in none.stderr
    assert not (tmp_path / "r.html").exists() and "Traceback" not in none.stderr + bad.stderr


def _not_blank(png: bytes) -> float:
    """Share of pixels that are not (near) white in a PNG."""
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(png), format="png")[..., :3]
    return float(np.mean(np.any(img < 0.9, axis=-1)))


@pytest.mark.slow
@pytest.mark.skipif(browser.find_chromium() is None, reason="chromium not installed (.ci/run "
                                                            "installs it)")
def test_the_report_loads_in_chromium_without_errors_and_shows_its_plots(small_run: Path,
                                                                         tmp_path: Path) -> None:
    page = write(small_run, tmp_path / "report.html")
    got = browser.load(page)
    assert got.errors == []
    assert got.requests and all(u.startswith(("file:", "data:")) for u in got.requests), \
        got.requests
    assert len(got.images) >= 3
    assert all(i["complete"] and i["naturalWidth"] > 300 and i["naturalHeight"] > 200
               for i in got.images), got.images
    assert _not_blank(got.screenshot) > 0.05

    # the harness itself sees what it must catch: a console error and an image that does not decode
    broken = tmp_path / "broken.html"
    broken.write_text(page.read_text().replace(
        "</body>", '<img src="data:image/png;base64,AAAA" alt="x"><script>console.error("boom")'
                   "</script></body>"))
    bad = browser.load(broken)
    assert any("boom" in e for e in bad.errors)
    assert any(i["naturalWidth"] == 0 for i in bad.images)
