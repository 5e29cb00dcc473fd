"""``migsim plot RUN frontier``: the boundary of a frontier run against one of its axes.

The y axis is the searched input (the boundary; human units, log scale when it spans more than a
decade), the x axis the first input that varies over the combinations (or ``--x``), one line per
value of the next one (``--color``; the profile by default when it varies). Markers say the
outcome: filled dots ``found``, triangles ``always_feasible`` (the boundary lies beyond the bracket:
drawn at the bracket's end), hollow circles ``non_monotone``; ``never_feasible`` and ``reversed``
combinations have no boundary and are counted in the title. Other inputs that vary are pooled
(median boundary per point of the line, said in the title).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from runner.errors import QueryError
from runner.plots.charts import FORMATS, context, pyplot, save_figure

#: Axes of divisor → unit label per kind of input, for readable tick values.
_SCALE = {"size": (2.0**30, "GiB"), "rate": (1e6, "MB/s"), "link": (1e9, "Gbit/s")}


def _scale(column: str) -> tuple[float, str]:
    from models.fields import INPUT_BY_COLUMN

    f = INPUT_BY_COLUMN.get(column)
    if f is None:
        return 1.0, ""
    if f.kind in _SCALE:
        return _SCALE[f.kind]
    return 1.0, f.unit


def is_frontier_run(run_dir: str | os.PathLike[str]) -> bool:
    """``run_dir`` holds a frontier run (``run.json`` kind ``migsim-frontier-run``)."""
    from runner.storage import rundir
    from runner.storage.store import _root_of

    try:
        return rundir.read_manifest(_root_of(run_dir)[0]).get("kind") == "migsim-frontier-run"
    except Exception:  # noqa: BLE001 - not a run: the figure's own checks say why
        return False


def plot(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], *, x: str | None = None,
         color: str | None = None, where: str | None = None, title: str | None = None) -> Path:
    """Draw a frontier run's boundaries into ``out`` (.png, .svg or .pdf).

    Raises
    ------
    QueryError
        Not a frontier run, an unknown ``x``/``color`` column, a bad output path, or nothing to
        draw.
    """
    import polars as pl

    from models.fields import INPUT_BY_COLUMN, INPUT_BY_NAME
    from runner.storage import rundir
    from runner.storage.query import filtered
    from runner.storage.store import _root_of

    path = Path(out)
    if path.suffix.lower() not in FORMATS:
        raise QueryError(f"--out {str(out)!r}: allowed: a file ending in {', '.join(FORMATS)}")
    if not path.parent.exists():
        raise QueryError(f"--out {str(out)!r}: directory {str(path.parent)!r} does not exist")
    root, _ = _root_of(run_dir)
    man = rundir.read_manifest(root)
    if man.get("kind") != "migsim-frontier-run":
        raise QueryError(f"plot frontier: {root} is a {man.get('kind')}, not a frontier run "
                         f"(make one with: migsim frontier SPEC --find ... --subject-to ...)")
    info = man["frontier"]
    ycol = info["column"]
    df = filtered(run_dir, where, "frontier").collect()
    if df.height == 0:
        raise QueryError("nothing to plot: no combinations" + (f" match --where {where!r}"
                                                                if where else ""))

    def column(name: str | None, opt: str) -> str | None:
        if name is None:
            return None
        c = INPUT_BY_NAME[name].column if name in INPUT_BY_NAME else name
        if c not in df.columns:
            raise QueryError(f"{opt}: unknown column {name!r}; allowed: an input of the run "
                             f"({', '.join(k for k in df.columns if k in INPUT_BY_COLUMN)})")
        return c

    varying = [c for c in df.columns if c in INPUT_BY_COLUMN and c != ycol
               and df.get_column(c).drop_nulls().n_unique() > 1]
    xcol = column(x, "--x") or next((c for c in varying if c != "profile"
                                     and INPUT_BY_COLUMN[c].kind not in ("choice", "bool")),
                                    None)
    if xcol is None:
        raise QueryError("plot frontier: no numeric input varies over the combinations; nothing "
                         "to draw against (sweep another field in the spec, or query the table)")
    ccol = column(color, "--color") or next((c for c in (["profile"] + varying)
                                             if c in varying and c != xcol), None)
    xs, xunit = _scale(xcol)
    ys, yunit = _scale(ycol)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8), constrained_layout=True)
    groups = [None] if ccol is None else df.get_column(ccol).unique().sort().to_list()
    cmap = plt.get_cmap("tab10")
    for i, g in enumerate(groups):
        sub = df if g is None else df.filter(pl.col(ccol) == g)
        agg = (sub.group_by(xcol).agg(pl.col(ycol).median().alias("y"),
                                      pl.col("outcome").mode().first().alias("o"))
               .sort(xcol))
        xv = agg.get_column(xcol).to_numpy().astype(float) / xs
        yv = agg.get_column("y").to_numpy().astype(float) / ys
        oc = np.asarray(agg.get_column("o").to_list(), dtype=object)
        label = None if g is None else f"{INPUT_BY_COLUMN[ccol].name} = " + (
            g if isinstance(g, str) else INPUT_BY_COLUMN[ccol].format(g))
        c = cmap(i % 10)
        ax.plot(xv, yv, "-", color=c, label=label, alpha=0.8)
        for o, marker, face in (("found", "o", c), ("always_feasible", "^", c),
                                ("non_monotone", "o", "none")):
            m = oc == o
            if m.any():
                ax.plot(xv[m], yv[m], marker, color=c, markerfacecolor=face, linestyle="none")
    for axis, col, vals in ((ax.xaxis, xcol, df.get_column(xcol)), (ax.yaxis, ycol,
                                                                     df.get_column(ycol))):
        v = vals.drop_nulls().to_numpy().astype(float)
        if v.size and v.min() > 0 and v.max() / v.min() > 10:
            (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
    fx = INPUT_BY_COLUMN[xcol]
    ax.set_xlabel(f"{fx.name} ({xunit})" if xunit else fx.name)
    ax.set_ylabel(f"{info['find']} ({yunit})" if yunit else info["find"])
    ax.grid(True, alpha=0.3)
    if ccol is not None:
        ax.legend(fontsize=8)
    counts = df.get_column("outcome").value_counts()
    missing = {r["outcome"]: r["count"] for r in counts.iter_rows(named=True)
               if r["outcome"] in ("never_feasible", "reversed")}
    extra = "; ".join(f"{v} {k}" for k, v in missing.items())
    axes_shown = [c for c in (xcol, ccol) if c]
    ctx = context(df, axes_shown + [ycol], where, "median over")
    head = title or f"{info['find']} subject to {info['subject_to']}"
    lines = [textwrap.fill(t, 110) for t in (head, ctx, extra) if t]
    ax.set_title("\n".join(lines), fontsize=8)
    save_figure(fig, path)
    plt.close(fig)
    return path
