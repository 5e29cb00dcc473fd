"""``migsim calibrate DATA --profile qemu --fit FIELD[,FIELD...] --out mine.toml``: fit policy
constants to measured migrations and write a profile file (:mod:`runner.answers.calibrate`)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from runner.answers.calibrate import DEFAULT_FOLDS
from runner.cli import app
from runner.cli.common import echo_err

_HELP = (
    "Fit constants of a profile to measured migrations by least squares over the model, and write "
    "them as a profile file usable wherever a profile name goes.\n\n"
    "DATA: the output of `migsim measure qemu` (a run directory, its runs.csv or a Parquet part) "
    "or a CSV / Parquet in migsim's columns (inputs, status or converged, total_time_s, "
    "memory_transferred_bytes, downtime_ms). The fit uses the data set's train split only "
    "(--split all: every run). Prints the k-fold cross-validated error per output before (the "
    "profile's constants) and after (fitted without the held-out fold), the held-out test split, "
    "and each fitted value with its standard error. A constant the data cannot identify is refused "
    "(exit 2) naming it.\n\n"
    "Exit status: 0 fitted; 2 bad input (data, field, an unidentifiable constant)."
)


@app.command(help=_HELP)
def calibrate(
    data: Annotated[Path, typer.Argument(help="Measured runs (see above).", show_default=False)],
    fit: Annotated[str, typer.Option("--fit", help="Comma-separated policy constants to fit, e.g. "
                                                   "rate_window_s,resume_s.",
                                     show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Profile file to write (.toml).",
                                      show_default=False)],
    profile: Annotated[str, typer.Option(
        "--profile", help="Profile to start from: a shipped name or a profile file.")] = "qemu",
    name: Annotated[Optional[str], typer.Option(
        "--name", help="Name of the written profile (default: the --out file name).")] = None,
    split: Annotated[str, typer.Option(
        "--split", help="train: fit the data set's train part (all runs when it has none); "
                        "all: every run.")] = "train",
    folds: Annotated[int, typer.Option("--folds", help="Folds of the cross-validation.")
                     ] = DEFAULT_FOLDS,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
) -> None:
    from models.policy import get_profile
    from runner.answers import calibrate as cal
    from runner.cli.display import table
    from runner.profiles import from_doc, resolve

    if out.suffix != ".toml":
        raise cal.CalibrationError(f"--out {str(out)!r}: allowed: a file ending in .toml")
    if out.exists() and not force:
        raise cal.CalibrationError(f"--out {str(out)!r}: exists; add --force to overwrite it")
    if not out.parent.is_dir():
        raise cal.CalibrationError(f"--out {str(out)!r}: directory {str(out.parent)!r} does not "
                                   f"exist")
    pname = name or out.stem
    pname_check = {"base": "qemu", "name": pname}
    from_doc(pname_check, "--name")                       # a valid, non-shipped name
    names = [f.strip() for f in fit.split(",") if f.strip()]
    if not names:
        raise cal.CalibrationError("--fit: empty; allowed: comma-separated policy constants")
    pn, pfile = resolve(profile)
    base = pfile.policy() if pfile is not None else get_profile(pn)
    d = cal.load_data(data)
    from runner.cli.progress import announce_compile
    announce_compile()
    rep = cal.calibrate(d, base, names, split=split, k=folds)

    def pct(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{100 * x:.1f} %"

    def ms(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{x:.1f} ms"

    typer.echo(f"calibrate {base.name} on {data}: {rep.train_runs} runs fitted "
               f"({'train split' if split == 'train' else 'all runs'}), {rep.test_runs} test runs "
               f"held out; {rep.folds}-fold cross-validation")
    rows = []
    for k in rep.fields:
        v, se = rep.fit.values[k], rep.fit.stderr[k]
        rows.append([k, f"{rep.start[k]:.6g}", f"{v:.6g}", f"± {se:.3g}",
                     f"{rep.sensitivity[k]:.2%}"])
    typer.echo(table(rows, ["constant", base.name, "fitted", "std error", "sensitivity"],
                     align="lrrrr"))
    rows = []
    for key, fmt in (("total time", pct), ("RAM bytes", pct), ("downtime_ms", ms)):
        b, a = cal.stats(rep.cv_before[key]), cal.stats(rep.cv_after[key])
        line = [key, f"{fmt(b[0])} / {fmt(b[1])}", f"{fmt(a[0])} / {fmt(a[1])}"]
        if rep.test_before is not None:
            tb, ta = cal.stats(rep.test_before[key]), cal.stats(rep.test_after[key])
            line += [f"{fmt(tb[0])} / {fmt(tb[1])}", f"{fmt(ta[0])} / {fmt(ta[1])}"]
        rows.append(line)
    heads = ["error (median / p90)", "cv before", "cv after"]
    if rep.test_before is not None:
        heads += ["test before", "test after"]
    typer.echo(table(rows, heads, align="l" + "r" * (len(heads) - 1)))
    wrong_b = int(rep.cv_before["wrong"].sum())
    wrong_a = int(rep.cv_after["wrong"].sum())
    typer.echo(f"wrong verdicts (cv): {wrong_b} before, {wrong_a} after; held-out loss "
               f"{rep.cv_loss[0]:.4g} before, {rep.cv_loss[1]:.4g} after")
    for note in rep.notes:
        echo_err(f"migsim: note: {note}")
    text = cal.profile_text(rep, pname, str(out))
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, out)
    echo_err(f"migsim: wrote {out} ({rep.seconds:.1f} s); use it with: migsim migrate --profile "
             f"{out} ..., or profile = [\"{out}\"] in a spec")
