"""``migsim runs [DIR]``: the runs kept under ``results/`` (or DIR), one line each.

A run is listed with its spec name, run directory, kind, start time, spec fingerprint (first 12
hex digits: equal fingerprints mean the same points), the overrides it was made with, its row
counts per status and its status (``complete``, ``running``, ``interrupted``, ``failed``; a run
whose writer died while running shows ``running`` until it is resumed). ``*`` marks the run
``latest`` points to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Iterator

import typer

from runner.cli import app
from runner.errors import OptionError

#: How deep below DIR run directories are looked for (``results/<name>/<time>/`` is 2; a run
#: written with ``--out results/qemu/rho`` is 2 as well; grouping directories add one).
MAX_DEPTH = 3


def find_runs(base: Path, depth: int = MAX_DEPTH) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every run directory under ``base`` (``base`` itself included) with its manifest, in path
    order; never follows ``latest`` pointers (each run is listed once)."""
    from runner.storage import rundir

    if (base / rundir.MANIFEST).is_file():
        try:
            yield base, rundir.read_manifest(base)
        except Exception:  # noqa: BLE001 - a damaged or foreign run.json: not a run to list
            pass
        return
    if depth <= 0:
        return
    try:
        children = sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink()
                          and not p.name.startswith("."))
    except OSError:
        return
    for child in children:
        yield from find_runs(child, depth - 1)


@app.command()
def runs(
    base: Annotated[Path, typer.Argument(help="Directory holding runs (default: results).")]
    = Path("results"),
    all_runs: Annotated[bool, typer.Option(
        "--all/--latest-only", help="Every kept run, or only the latest of each spec.")] = True,
) -> None:
    """List the runs under results/ (or DIR): name, run, start time, fingerprint, counts, status."""
    from runner.cli.display import table
    from runner.storage import rundir

    if not base.exists():
        raise OptionError(f"{base}: does not exist (runs are written under results/ of the "
                          f"directory migsim sweep ran in)")
    if not base.is_dir():
        raise OptionError(f"{base}: is not a directory")
    rows = []
    for root, man in find_runs(base):
        parent = root.parent
        latest = rundir.latest_run(parent) if rundir.is_kept_parent(parent) else None
        is_latest = latest is not None and latest.resolve() == root.resolve()
        if not all_runs and latest is not None and not is_latest:
            continue
        c = man.get("counts", {})
        kind = man["kind"].removeprefix("migsim-").removesuffix("-run")
        rows.append([
            str(man.get("name", "")), str(root) + (" *" if is_latest else ""), kind,
            str(man.get("created", "")).replace("T", " ").removesuffix("Z"),
            str(man.get("fingerprint", ""))[:12], " ".join(man.get("overrides", []) or []) or "-",
            f"{man['n_points']:,}", f"{c.get('completed', 0):,}", f"{c.get('rejected', 0):,}",
            f"{c.get('failed', 0):,}", str(man.get("status", ""))])
    if not rows:
        typer.echo(f"no migsim runs under {base}")
        return
    typer.echo(table(rows, ["name", "run (* latest)", "kind", "started (UTC)", "fingerprint",
                            "overrides", "points", "completed", "rejected", "failed", "status"],
                     align="llllllrrrrl"))
