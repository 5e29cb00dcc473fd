"""A run as one self-contained HTML file: ``migsim report RUN --out report.html``.

The file holds everything inline — CSS in a ``<style>`` element, every figure as a base64 PNG
``data:`` URI, no script, no external link — so it opens offline and can be mailed as is. It
shows:

- the run: name, kind, status, counts, executor, overrides, fingerprint, model and library
  versions, times (from ``run.json``);
- the spec as written (``spec.toml``);
- summary tables: medians and 95th percentiles per profile (``migsim summary``), and for scenario
  runs the scenario points (makespan, concurrency, downtime);
- every figure that fits the run: for sweeps the convergence map, time and downtime curves and
  traffic vs VM size (each only when the run varies what it plots against), and the
  distributions of downtime and total time per profile; for scenario runs the timeline of the
  first point, makespan vs the swept field and the distribution of downtime; for other runs the
  distributions of their timing columns. A figure that does not fit is listed with the reason.

Public entry point: :func:`write`.
"""

from __future__ import annotations

import base64
import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from runner.errors import QueryError

#: Rows of a table shown in the report (the rest are counted, not shown).
MAX_TABLE_ROWS = 60
#: Largest spec text shown in full (characters).
MAX_SPEC_CHARS = 20_000

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #1d1d1f; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em;
     margin-top: 2em; } h3 { margin-bottom: .3em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; white-space: nowrap; }
th { background: #f4f4f6; } td.l, th.l { text-align: left; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1.2em; font-size: .9em; }
dt { color: #555; } dd { margin: 0; font-family: ui-monospace, monospace; }
pre { background: #f7f7f9; border: 1px solid #e3e3e8; padding: .8em; overflow-x: auto;
      font-size: .8em; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .85em; } .note { color: #777; font-size: .85em; }
.scroll { overflow-x: auto; }
"""


def write(run_dir: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Write the HTML report of a run.

    Parameters
    ----------
    run_dir : path
        The run directory (``results/<name>`` means its latest run).
    out : path
        The HTML file to write (its directory must exist); written atomically.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    RunDirError
        If ``run_dir`` is not a migsim run.
    QueryError
        If ``out`` does not end in ``.html`` / ``.htm`` or its directory does not exist.
    """
    from runner.storage import rundir

    path = Path(out)
    if path.suffix.lower() not in (".html", ".htm"):
        raise QueryError(f"--out {str(out)!r}: allowed: a file ending in .html")
    if not path.parent.exists():
        raise QueryError(f"--out {str(out)!r}: directory {str(path.parent)!r} does not exist")
    root = rundir.resolve_run(run_dir)
    man = rundir.read_manifest(root)
    label = _label(Path(run_dir), root)
    with tempfile.TemporaryDirectory(prefix="migsim-report-") as tmp:
        figures, skipped = _figures(root, man, Path(tmp))
    sections = [_run_section(root, man), _tables_section(root, man),
                _figures_section(figures, skipped), _spec_section(root)]
    title = f"migsim report: {label}"
    doc = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n"
           f"<h1>{_e(title)}</h1>\n<p class=\"note\">{_e(_kind(man))} run {_e(str(root))}; "
           f"{_e(_description(root))}</p>\n" + "\n".join(sections)
           + "\n</body></html>\n")
    tmp_out = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp_out.write_text(doc, encoding="utf-8")
        os.replace(tmp_out, path)
    finally:
        if tmp_out.exists():
            tmp_out.unlink()
    return path


# ---------------------------------------------------------------------- pieces
def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _label(typed: Path, root: Path) -> str:
    name = typed.name if typed.name != "latest" else typed.parent.name
    return name if root.name == name else f"{name} ({root.name})"


def _description(root: Path) -> str:
    try:
        return str(json.loads((root / "spec.json").read_text()).get("description") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def _kind(man: dict[str, Any]) -> str:
    return str(man["kind"]).removeprefix("migsim-").removesuffix("-run")


def _run_section(root: Path, man: dict[str, Any]) -> str:
    counts = man.get("counts", {})
    items = [
        ("name", man.get("name")), ("kind", _kind(man)), ("status", man.get("status")),
        ("points", f"{man.get('n_points', 0):,} in {man.get('n_batches', 0):,} parts"),
        ("rows by status", ", ".join(f"{k} {v:,}" for k, v in counts.items()) or "-"),
        ("executor", man.get("executor") or man.get("engine") or man.get("ray") or "-"),
        ("overrides", " ".join(man.get("overrides") or []) or "-"),
        ("spec", man.get("spec_source") or "-"), ("fingerprint", man.get("fingerprint")),
        ("model version", man.get("model_version")), ("created", man.get("created")),
        ("updated", man.get("updated")),
        ("wall time", f"{man['wall_s']:.1f} s" if isinstance(man.get("wall_s"), (int, float))
         else "-"),
        ("versions", ", ".join(f"{k} {v}" for k, v in (man.get("versions") or {}).items())),
    ]
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return f"<h2>Run</h2>\n<dl>{rows}</dl>"


def _spec_section(root: Path) -> str:
    try:
        text = (root / "spec.toml").read_text(encoding="utf-8")
    except OSError:
        return "<h2>Spec</h2><p class=\"note\">spec.toml: unreadable</p>"
    cut = len(text) > MAX_SPEC_CHARS
    shown = text[:MAX_SPEC_CHARS] + ("\n# … (cut: the whole file is spec.toml in the run)"
                                     if cut else "")
    return f"<h2>Spec (spec.toml)</h2>\n<pre>{_e(shown)}</pre>"


def _frame_html(df: Any, caption: str) -> str:
    """A polars DataFrame as an HTML table (floats to 4 significant digits, null as "null")."""
    head = df.head(MAX_TABLE_ROWS)
    cells = []
    for row in head.iter_rows():
        tds = []
        for v in row:
            if v is None:
                tds.append("<td class=\"note\">null</td>")
            elif isinstance(v, float):
                tds.append(f"<td>{v:.4g}</td>")
            elif isinstance(v, (int,)) and not isinstance(v, bool):
                tds.append(f"<td>{v:,}</td>")
            else:
                tds.append(f"<td class=\"l\">{_e(v)}</td>")
        cells.append("<tr>" + "".join(tds) + "</tr>")
    header = "".join(f"<th>{_e(c)}</th>" for c in head.columns)
    more = (f"<p class=\"note\">first {MAX_TABLE_ROWS} of {df.height:,} rows</p>"
            if df.height > MAX_TABLE_ROWS else "")
    return (f"<h3>{_e(caption)}</h3>\n<div class=\"scroll\"><table><thead><tr>{header}</tr></thead>"
            f"<tbody>{''.join(cells)}</tbody></table></div>{more}")


def _tables_section(root: Path, man: dict[str, Any]) -> str:
    from runner.storage.query import summary
    from runner.storage.store import load

    out = ["<h2>Summary</h2>"]
    kind = man["kind"]
    try:
        names = load(root).collect_schema().names()
        by = ["profile"] if "profile" in names else []
        what = ("medians and 95th percentiles over completed points, per profile" if by and
                "status" in names else "medians and 95th percentiles")
        out.append(_frame_html(summary(root, by), f"{man['tables'][0]}: {what}"))
        if "link_bps" in names and kind == "migsim-sweep-run":
            import polars as pl
            n_links = load(root).select(pl.col("link_bps").n_unique()).collect().item()
            if 1 < n_links <= 8:
                out.append(_frame_html(summary(root, by + ["link_bps"]),
                                       "per profile and link speed (link_bps, bit/s)"))
        if kind == "migsim-scenario-run":
            sc = load(root, "scenarios").sort("point_id").collect()
            keep = [c for c in sc.columns if c in ("point_id", "profile", "makespan_s",
                                                   "peak_concurrency", "completed", "failed",
                                                   "rejected", "max_queue_wait_s",
                                                   "max_downtime_ms")
                    or c in (man.get("swept") or {}).values()]
            out.append(_frame_html(sc.select(keep), "scenario points"))
    except Exception as exc:  # noqa: BLE001 - a report shows what it can, and says what it cannot
        out.append(f"<p class=\"note\">summary not available: {_e(_one_line(exc))}</p>")
    return "\n".join(out)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------------- figures
def _plans(root: Path, man: dict[str, Any]) -> list[tuple[str, str, Callable[[Path], Any]]]:
    """(title, caption, draw(out)) of every figure that may fit the run's kind."""
    from runner.plots import charts, generic

    kind = man["kind"]
    if kind == "migsim-sweep-run":
        return [
            ("Convergence map", "dirty rate × link speed per profile, coloured by verdict",
             lambda p: charts.plot(root, "convergence", p)),
            ("Migration time and downtime", "medians vs dirty rate, one line per link speed",
             lambda p: charts.plot(root, "time", p)),
            ("Traffic", "bytes on the wire vs VM size, median and 10–90 % band",
             lambda p: charts.plot(root, "traffic", p)),
            ("Downtime distribution", "CDF of downtime_ms per profile (completed migrations)",
             lambda p: generic.cdf(root, p, "downtime_ms", color="profile")),
            ("Total time distribution", "CDF of total_time_s per profile",
             lambda p: generic.cdf(root, p, "total_time_s", color="profile")),
        ]
    if kind == "migsim-scenario-run":
        from runner.plots import timeline

        return [
            ("Timeline", "migrations per host, first scenario point",
             lambda p: timeline.plot(root, "timeline", p)),
            ("Makespan", "makespan vs the swept field", lambda p: timeline.plot(root, "makespan", p)),
            ("Downtime distribution", "CDF of downtime_ms per profile over every migration",
             lambda p: generic.cdf(root, p, "downtime_ms", color="profile")),
        ]
    from runner.storage.store import load

    schema = load(root).collect_schema()
    timing = [c for c, t in schema.items() if t.is_numeric() and c.endswith(("_s", "_ms"))][:4]
    return [(f"Distribution of {c}", f"CDF of {c}", (lambda col: lambda p: generic.cdf(root, p, col))(c))
            for c in timing]


def _figures(root: Path, man: dict[str, Any], tmp: Path
             ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """Draw every fitting figure: (title, caption, base64 PNG) and (title, why not drawn)."""
    from models.errors import MigsimError

    done, skipped = [], []
    try:
        plans = _plans(root, man)
    except MigsimError as exc:
        return [], [("figures", _one_line(exc))]
    for i, (title, caption, draw) in enumerate(plans):
        out = tmp / f"figure-{i}.png"
        try:
            draw(out)
        except MigsimError as exc:
            skipped.append((title, _one_line(exc)))
            continue
        done.append((title, caption, base64.b64encode(out.read_bytes()).decode("ascii")))
    return done, skipped


def _figures_section(figures: list[tuple[str, str, str]], skipped: list[tuple[str, str]]) -> str:
    out = ["<h2>Figures</h2>"]
    for title, caption, b64 in figures:
        out.append(f"<figure><h3>{_e(title)}</h3><img src=\"data:image/png;base64,{b64}\" "
                   f"alt=\"{_e(title)}\"><figcaption>{_e(caption)}</figcaption></figure>")
    if not figures:
        out.append("<p class=\"note\">no figure fits this run</p>")
    if skipped:
        items = "".join(f"<li>{_e(t)}: {_e(why)}</li>" for t, why in skipped)
        out.append(f"<p class=\"note\">not drawn (the run does not vary what they plot):</p>"
                   f"<ul class=\"note\">{items}</ul>")
    return "\n".join(out)
