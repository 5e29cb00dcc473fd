"""Calibration: fit policy constants of a profile to measured migrations, by least squares.

``migsim calibrate DATA --profile qemu --fit setup_s,scan_Bps --out mine.toml`` reads measured runs
(the output of ``migsim measure qemu`` — a run directory, its ``runs.csv`` or a Parquet part — read
the way ``migsim validate`` reads them, :mod:`runner.measure.validate`; or any CSV / Parquet in
migsim's column vocabulary: input columns, ``status`` or ``converged``, ``total_time_s``,
``memory_transferred_bytes``, ``downtime_ms``), and fits the chosen constants with
:func:`scipy.optimize.least_squares` over the vectorised model (one ``models.simulate`` call over
all runs per evaluation).

- **Residuals.** Per measured-converged run and output: (predicted - measured) / max(measured,
  floor) for total time (floor: the data set's loopback jitter, 20 ms), RAM bytes (floor 1 MiB) and
  downtime (floor 20 ms); a run the model does not complete costs 1 (100 %) per output. A soft-L1
  loss (scale 0.1) keeps a few outliers from steering the fit.
- **Parameters.** Positive constants are fitted in log space (relative steps; they stay positive),
  constants that are 0 in the base profile in their own units from 0 up.
- **Identifiability.** Before fitting, each constant is moved by 10 % (log space; a typical step
  for a zero constant) at the base profile's values: when the predictions move by less than
  :data:`MIN_SENSITIVITY` (RMS over runs and outputs), the data cannot tell its values apart and the
  fit is refused naming the field — rather than returned as noise. After fitting, a constant whose
  standard error (from the Jacobian) exceeds :data:`MAX_REL_SE` of its value is refused the same
  way (it trades off against another constant).
- **Split.** Runs with an ``input_hash`` carry the data set's fixed train/test split
  (:mod:`runner.measure.split`): the fit uses the train part only unless told (``split="all"``);
  the test part is reported apart, before and after.
- **Cross-validation.** k folds over the fitting runs (repeats of one point kept together): each
  fold is predicted by constants fitted without it; per output the median and p90 error before
  (base constants) and after (fold fits) are reported.

The result is a profile file (:mod:`runner.profiles`) usable everywhere a profile name is.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from models.errors import MigsimError
from models.fields import INPUT_BY_COLUMN
from models.policy import PROFILES, Policy, get_profile

#: Outputs fitted and reported: column, floor of the relative residual, label.
OUTPUTS = (("total_time_s", 0.02, "total time"), ("memory_transferred_bytes", 2.0**20, "RAM bytes"),
           ("downtime_ms", 20.0, "downtime"))
#: Smallest RMS relative change of the predictions, for a 10 % change of a constant, that lets the
#: data identify it (assumed: 0.1 %, below the harness's own repeat spread of ~1 %).
MIN_SENSITIVITY = 1e-3
#: Largest standard error of a fitted constant relative to its value (assumed: 50 %).
MAX_REL_SE = 0.5
#: Folds of the cross-validation by default.
DEFAULT_FOLDS = 5
#: Cost of a measured-converged run the model does not complete, per output (100 %).
MISS = 1.0
#: Typical magnitude of a constant that is 0 in the base profile, by the unit its name carries.
_TYPICAL = (("_ms", 10.0), ("_s", 0.01), ("_bytes", 1e6), ("_Bps", 1e8), ("_bps", 1e8),
            ("_pct", 10.0))
FIT_NAME = "(fit)"


class CalibrationError(MigsimError):
    """Calibration cannot be done as asked (bad data, field, unidentifiable constant): exit 2."""


# ----------------------------------------------------------------------------- data

@dataclass
class Data:
    """Measured runs as model inputs and observed outputs."""

    columns: dict[str, np.ndarray]        # model input columns (profile column excluded)
    observed: dict[str, np.ndarray]       # OUTPUTS columns (NaN: not measured)
    converged: np.ndarray                 # measured converged
    groups: np.ndarray                    # repeats of one point share a group (object)
    split: np.ndarray                     # "train" / "test" / "" (object)
    jitter_s: float
    source: str

    @property
    def n(self) -> int:
        return int(self.converged.size)

    def take(self, idx: np.ndarray) -> "Data":
        return Data({k: v[idx] for k, v in self.columns.items()},
                    {k: v[idx] for k, v in self.observed.items()}, self.converged[idx],
                    self.groups[idx], self.split[idx], self.jitter_s, self.source)


def _f(x: Any) -> float:
    if x is None or x == "":
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _b(x: Any) -> bool:
    return x is True or str(x).lower() in ("true", "1")


def load_data(path: str | Path) -> Data:
    """Read measured runs (see the module docstring).

    Raises
    ------
    CalibrationError
        A missing or unreadable file, or rows without the columns a fit needs.
    """
    from runner.measure.split import split_of
    from runner.measure.validate import load_measured, measured_columns

    p = Path(path)
    if not p.exists():
        raise CalibrationError(f"{path}: no such file or directory; allowed: measured runs (a "
                               f"migsim measure run directory, its runs.csv, or a CSV / Parquet "
                               f"in migsim's columns)")
    try:
        rows, conditions = load_measured(p)
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{path}: cannot read measured runs: "
                               f"{' '.join(str(exc).split())[:200]}") from None
    except Exception as exc:  # noqa: BLE001 - pyarrow's and csv's many errors: one line
        raise CalibrationError(f"{path}: cannot read measured runs: {type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:200]}") from None
    if not rows:
        raise CalibrationError(f"{path}: holds no runs")
    need = ("total_time_s",)
    missing = [c for c in need if c not in rows[0]]
    conv_col = "converged" if "converged" in rows[0] else "status" if "status" in rows[0] else None
    if missing or conv_col is None:
        raise CalibrationError(f"{path}: lacks the column(s) "
                               f"{', '.join(missing + ([] if conv_col else ['converged or status']))}"
                               f"; allowed: migsim's column vocabulary (migsim measure qemu rows)")
    harness = "link_shaped" in rows[0] and "measured_dirty_rate_Bps" in rows[0]
    if harness:
        cols = measured_columns(rows, conditions)
    else:
        cols = {}
        for c, f in INPUT_BY_COLUMN.items():
            if c in rows[0] and c != "profile":
                if f.kind == "choice":
                    cols[c] = np.array([str(r[c]) for r in rows], dtype=object)
                elif f.kind == "bool":
                    cols[c] = np.array([_b(r[c]) for r in rows])
                else:
                    vals = np.array([_f(r[c]) for r in rows])
                    if np.isnan(vals).all():
                        continue
                    cols[c] = vals
    cols.pop("profile", None)
    observed = {k: np.array([_f(r.get(k)) for r in rows]) for k, _, _ in OUTPUTS}
    if conv_col == "converged":
        converged = np.array([_b(r.get("converged")) for r in rows])
    else:
        converged = np.array([str(r.get("status")) == "completed" for r in rows])
    hashes = [str(r.get("input_hash") or "") for r in rows]
    groups = np.array([h or f"row{i}" for i, h in enumerate(hashes)], dtype=object)
    split = np.array([split_of(h) if h else "" for h in hashes], dtype=object)
    return Data(cols, observed, converged, groups, split, float(conditions.get("jitter_s", 0.02)),
                str(path))


# ----------------------------------------------------------------------------- parameters

@dataclass(frozen=True)
class Param:
    """One fitted constant: its value is ``exp(x)`` (log space) or ``x * scale``."""

    name: str
    start: float
    log: bool
    scale: float

    def value(self, x: float) -> float:
        return math.exp(x) if self.log else max(x, 0.0) * self.scale

    def x0(self) -> float:
        return math.log(self.start) if self.log else self.start / self.scale

    @property
    def step(self) -> float:
        """A 10 % move (log space), or a tenth of the typical magnitude."""
        return math.log(1.1) if self.log else 0.1


def params(base: Policy, names: Sequence[str]) -> list[Param]:
    """The constants to fit, checked: numeric policy or limits fields with a finite value."""
    from runner.profiles import overridable

    allowed = [k for k in overridable() if _numeric(base, k)]
    out = []
    for name in names:
        if name not in allowed:
            raise CalibrationError(f"--fit: invalid field {name!r}; allowed: a numeric constant "
                                   f"of {base.name}: " + ", ".join(allowed))
        v = float(_get(base, name))
        if not math.isfinite(v):
            raise CalibrationError(f"--fit: {name} is {v:g} (no limit) in {base.name}; a fit "
                                   f"needs a finite starting value: set one in a profile file and "
                                   f"calibrate that")
        typical = next((t for s, t in _TYPICAL if name.endswith(s)), 1.0)
        out.append(Param(name, v, v > 0, typical))
    if len(set(names)) != len(names):
        raise CalibrationError(f"--fit: a field named twice in {','.join(names)}")
    return out


def _get(p: Policy, k: str) -> Any:
    return getattr(p, k) if hasattr(p, k) else getattr(p.limits, k)


def _numeric(p: Policy, k: str) -> bool:
    v = _get(p, k)
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def policy_for(base: Policy, ps: Sequence[Param], x: np.ndarray) -> Policy:
    """The base profile with the constants at ``x``."""
    return replace(get_profile(base.lineage, **{**_base_overrides(base),
                                                **{p.name: p.value(float(v))
                                                   for p, v in zip(ps, x)}}),
                   name=FIT_NAME, base=base.lineage)


def _base_overrides(base: Policy) -> dict[str, Any]:
    """The constants where ``base`` differs from its shipped profile (a profile file's)."""
    shipped = PROFILES[base.lineage]
    from runner.profiles import overridable
    return {k: _get(base, k) for k in overridable() if _get(base, k) != _get(shipped, k)}


# ----------------------------------------------------------------------------- the model

def predict(data: Data, pol: Policy) -> dict[str, np.ndarray]:
    """The model's outputs for every run with profile ``pol``."""
    from models.migration import simulate

    cols = dict(data.columns)
    cols["profile"] = np.full(data.n, FIT_NAME, dtype=object)
    with np.errstate(all="ignore"):
        return simulate(cols, profiles={FIT_NAME: replace(pol, name=FIT_NAME)})


def residuals(data: Data, out: Mapping[str, np.ndarray]) -> np.ndarray:
    """Relative residuals of the measured-converged runs, output-major (see module docstring)."""
    done = np.asarray(out["status"]) == "completed"
    res = []
    for k, floor, _ in OUTPUTS:
        obs = data.observed[k]
        use = data.converged & ~np.isnan(obs)
        floor = data.jitter_s if k == "total_time_s" else floor
        with np.errstate(all="ignore"):
            r = (np.asarray(out[k], dtype=float) - obs) / np.maximum(np.abs(obs), floor)
        r = np.where(done, r, MISS)
        r = np.where(np.isfinite(r), r, MISS)
        res.append(r[use])
    return np.concatenate(res)


def loss(r: np.ndarray) -> float:
    """Mean soft-L1 loss of residuals (scale 0.1), the objective the fit minimises, per value."""
    z = (r / 0.1) ** 2
    return float(np.mean(2.0 * (np.sqrt(1.0 + z) - 1.0)) * 0.01) if r.size else math.nan


def errors(data: Data, out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per measured-converged run: the errors ``migsim validate`` reports (time relative, net of
    the jitter allowance; RAM bytes relative; downtime absolute ms), 1.0 / NaN where the model
    does not complete the run; plus the verdicts."""
    done = np.asarray(out["status"]) == "completed"
    c = data.converged
    t_obs, b_obs, d_obs = (data.observed[k] for k, _, _ in OUTPUTS)
    with np.errstate(all="ignore"):
        te = np.maximum(np.abs(out["total_time_s"] - t_obs) - data.jitter_s, 0.0) / t_obs
        be = np.abs(out["memory_transferred_bytes"] - b_obs) / b_obs
        dd = np.abs(out["downtime_ms"] - d_obs)
    return {"total time": np.where(done, te, MISS)[c], "RAM bytes": np.where(done, be, MISS)[c],
            "downtime_ms": np.where(done, dd, np.nan)[c], "wrong": np.asarray(done != c)}


# ----------------------------------------------------------------------------- the fit

@dataclass
class Fit:
    """Fitted constants: value and standard error per field (field units), and the fit's facts."""

    values: dict[str, float]
    stderr: dict[str, float]
    x: np.ndarray
    cost: float
    nfev: int
    runs: int


def sensitivities(data: Data, base: Policy, ps: Sequence[Param]) -> dict[str, float]:
    """RMS change of the residuals when each constant moves by its step (central difference)."""
    x0 = np.array([p.x0() for p in ps])
    out = {}
    for j, p in enumerate(ps):
        hi, lo = x0.copy(), x0.copy()
        hi[j] += p.step
        lo[j] = lo[j] - p.step if p.log else max(lo[j] - p.step, 0.0)
        d = residuals(data, predict(data, policy_for(base, ps, hi))) - \
            residuals(data, predict(data, policy_for(base, ps, lo)))
        out[p.name] = float(np.sqrt(np.mean(d**2))) / 2.0 if d.size else 0.0
    return out


def fit(data: Data, base: Policy, ps: Sequence[Param], check: bool = True) -> Fit:
    """Least squares over ``data`` from the base values (scipy's trust-region reflective)."""
    from scipy.optimize import least_squares

    x0 = np.array([p.x0() for p in ps])
    lower = np.array([-np.inf if p.log else 0.0 for p in ps])

    def fun(x: np.ndarray) -> np.ndarray:
        return residuals(data, predict(data, policy_for(base, ps, x)))

    r0 = fun(x0)
    if r0.size < len(ps) + 1:
        raise CalibrationError(f"{data.source}: {r0.size} measurements of converged runs to fit "
                               f"{len(ps)} constant(s); allowed: more measurements than constants")
    # the model is piecewise in several constants (pass counts, rate windows): start the local
    # least squares from the best point of a coarse grid around the base values
    x_start, best = x0, loss(r0)
    grid = start_grid(ps, x0)
    for x in grid:
        got = loss(fun(x))
        if got < best:
            x_start, best = x, got
    # then one constant at a time, a finer scan between the best grid point's neighbours (a narrow
    # minimum between two grid points is otherwise missed: least squares cannot cross a step)
    for j in range(len(ps)):
        spacing = np.diff(np.unique(grid[:, j]))
        half = float(spacing.min()) if spacing.size else 0.0
        for v in x_start[j] + np.linspace(-half, half, REFINE_POINTS):
            x = x_start.copy()
            x[j] = max(v, lower[j])
            got = loss(fun(x))
            if got < best:
                x_start, best = x, got
    sol = least_squares(fun, x_start, bounds=(lower, np.full(len(ps), np.inf)), loss="soft_l1",
                        f_scale=0.1, diff_step=0.02, x_scale=1.0, max_nfev=200 * len(ps))
    r = fun(sol.x)
    J = sol.jac
    dof = max(r.size - len(ps), 1)
    s2 = float(r @ r) / dof
    try:
        cov = np.linalg.pinv(J.T @ J) * s2
        se_x = np.sqrt(np.clip(np.diag(cov), 0.0, np.inf))
    except np.linalg.LinAlgError:
        se_x = np.full(len(ps), np.inf)
    values, stderr = {}, {}
    for p, x, s in zip(ps, sol.x, se_x):
        v = p.value(float(x))
        values[p.name] = v
        stderr[p.name] = v * (math.exp(s) - 1.0) if p.log else s * p.scale
        size = abs(v) if p.log else max(abs(v), p.scale)   # a constant fitted to 0: its scale
        if check and (not math.isfinite(stderr[p.name]) or stderr[p.name] > MAX_REL_SE * size):
            raise CalibrationError(
                f"--fit: {p.name} cannot be identified from {data.source}: fitted "
                f"{v:.4g} ± {stderr[p.name]:.2g} (more than {MAX_REL_SE:.0%} of its value; it "
                f"trades off against another constant or the data barely depend on it); drop it "
                f"from --fit")
    return Fit(values, stderr, sol.x, float(sol.cost), int(sol.nfev), int(data.converged.sum()))


#: Model evaluations of the coarse start grid of a fit, at most (assumed: ~0.5 s on 150 runs).
START_BUDGET = 300
#: Points of the finer scan of each constant between its best grid point's neighbours (assumed).
REFINE_POINTS = 17
#: The start grid spans the base value x 2^-3 .. x 2^3 (log constants), 0 .. 8 x typical (others).
START_OCTAVES = 3.0


def start_grid(ps: Sequence[Param], x0: np.ndarray) -> np.ndarray:
    """Start points: a full grid of ``START_BUDGET ** (1/p)`` values per constant (at least 3),
    or, beyond the budget, a seeded random subset of it."""
    per = max(3, int(START_BUDGET ** (1.0 / len(ps))))
    axes = []
    for p, x in zip(ps, x0):
        if p.log:
            axes.append(x + np.linspace(-START_OCTAVES, START_OCTAVES, per) * math.log(2.0))
        else:
            axes.append(np.linspace(0.0, 2.0**START_OCTAVES, per))
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(ps))
    if len(mesh) > START_BUDGET:
        mesh = mesh[np.random.default_rng(0).choice(len(mesh), START_BUDGET, replace=False)]
    return mesh


def folds(groups: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold of every run: groups (repeats of a point) assigned round-robin in a seeded order."""
    uniq = np.array(sorted(set(groups.tolist())), dtype=object)
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {g: i % k for i, g in zip(range(len(uniq)), uniq[order])}
    return np.array([fold_of[g] for g in groups])


@dataclass
class Report:
    """What :func:`calibrate` found."""

    base: Policy
    fields: list[str]
    start: dict[str, float]
    fit: Fit
    sensitivity: dict[str, float]
    cv_before: dict[str, np.ndarray]
    cv_after: dict[str, np.ndarray]
    test_before: dict[str, np.ndarray] | None
    test_after: dict[str, np.ndarray] | None
    train_runs: int
    test_runs: int
    split: str
    folds: int
    seconds: float
    source: str
    notes: list[str] = field(default_factory=list)
    cv_loss: tuple[float, float] = (math.nan, math.nan)   # held-out objective: base, fitted


def calibrate(data: Data, base: Policy, names: Sequence[str], *, split: str = "train",
              k: int = DEFAULT_FOLDS) -> Report:
    """Fit ``names`` of ``base`` to ``data``; cross-validate; refuse unidentifiable constants.

    Parameters
    ----------
    data : Data
    base : Policy
        A shipped profile or a profile file's.
    names : sequence of str
        Policy fields to fit.
    split : str
        ``train`` (the data set's train part; all runs when it has no split) or ``all``.
    k : int
        Folds of the cross-validation (2 or more).

    Raises
    ------
    CalibrationError
        Unknown field, too few runs, a constant the data cannot identify.
    """
    t0 = time.perf_counter()
    if split not in ("train", "all"):
        raise CalibrationError(f"--split: invalid value {split!r}; allowed: train or all")
    if not (isinstance(k, int) and k >= 2):
        raise CalibrationError(f"--folds: invalid value {k!r}; allowed: a whole number >= 2")
    ps = params(base, names)
    has_split = bool((data.split == "test").any())
    fit_idx = np.flatnonzero(data.split != "test") if split == "train" and has_split \
        else np.arange(data.n)
    notes = []
    if split == "train" and not has_split:
        notes.append("the data set has no train/test split (no input_hash): fitting all runs")
    train = data.take(fit_idx)
    sens = sensitivities(train, base, ps)
    for p in ps:
        if sens[p.name] < MIN_SENSITIVITY:
            what = "10 %" if p.log else f"{p.step * p.scale:g}"
            raise CalibrationError(
                f"--fit: {p.name} cannot be identified from {data.source}: moving it by {what} "
                f"changes the predictions by {sens[p.name]:.2%} RMS (threshold "
                f"{MIN_SENSITIVITY:.1%}); the runs do not depend on it (an input they set, or a "
                f"mechanism they do not exercise); drop it from --fit")
    result = fit(train, base, ps)
    # k-fold cross-validation over the fitting runs
    fo = folds(train.groups, min(k, len(set(train.groups.tolist()))))
    before: dict[str, list[np.ndarray]] = {}
    after: dict[str, list[np.ndarray]] = {}
    r_before: list[np.ndarray] = []
    r_after: list[np.ndarray] = []
    shipped_out = predict(train, base)
    for i in range(int(fo.max()) + 1):
        held = np.flatnonzero(fo == i)
        rest = np.flatnonzero(fo != i)
        f_i = fit(train.take(rest), base, ps, check=False)
        pol = policy_for(base, ps, f_i.x)
        out_after = predict(train.take(held), pol)
        out_before = {k2: np.asarray(v)[held] for k2, v in shipped_out.items()}
        e_after = errors(train.take(held), out_after)
        e_before = errors(train.take(held), out_before)
        r_after.append(residuals(train.take(held), out_after))
        r_before.append(residuals(train.take(held), out_before))
        for key in e_after:
            after.setdefault(key, []).append(e_after[key])
            before.setdefault(key, []).append(e_before[key])
    cv_before = {kk: np.concatenate(v) for kk, v in before.items()}
    cv_after = {kk: np.concatenate(v) for kk, v in after.items()}
    cv_loss = (loss(np.concatenate(r_before)), loss(np.concatenate(r_after)))
    if cv_loss[1] > cv_loss[0]:
        notes.append(f"the fit does not generalise: its cross-validated loss {cv_loss[1]:.4g} is "
                     f"worse than the base profile's {cv_loss[0]:.4g}; keep the base constants")
    test_before = test_after = None
    test_idx = np.flatnonzero(data.split == "test")
    if split == "train" and test_idx.size:
        test = data.take(test_idx)
        test_before = errors(test, predict(test, base))
        test_after = errors(test, predict(test, policy_for(base, ps, result.x)))
    return Report(base, list(names), {p.name: p.start for p in ps}, result, sens, cv_before,
                  cv_after, test_before, test_after, int(fit_idx.size), int(test_idx.size),
                  split, int(fo.max()) + 1, time.perf_counter() - t0, data.source, notes,
                  cv_loss)


# ----------------------------------------------------------------------------- output

def stats(e: np.ndarray) -> tuple[float, float]:
    """Median and p90 of errors (NaN ignored)."""
    e = e[~np.isnan(e)]
    if not e.size:
        return math.nan, math.nan
    return float(np.median(e)), float(np.percentile(e, 90))


def profile_text(rep: Report, name: str, out_path: str) -> str:
    """The profile file of a calibration (TOML)."""
    lines = [f"# Written by migsim calibrate from {rep.source} ({rep.train_runs} runs, "
             f"{'train split' if rep.split == 'train' else 'all runs'}).",
             f"# Use it anywhere a profile name goes: migsim migrate --profile {out_path}",
             f'base = "{rep.base.lineage}"', f'name = "{name}"',
             f'description = "{rep.base.lineage} calibrated to {Path(rep.source).name}: '
             f'{", ".join(rep.fields)}"']
    kept = _base_overrides(rep.base)
    srcs = {}
    for k, v in kept.items():
        if k not in rep.fit.values:
            lines.append(f"{k} = {_toml(v)}")
            srcs[k] = rep.base.source(k)
    for k, v in rep.fit.values.items():
        lines.append(f"{k} = {_toml(v)}")
        srcs[k] = (f"migsim calibrate: least squares on {rep.source} ({rep.train_runs} runs); "
                   f"± {rep.fit.stderr[k]:.3g} (1 s.d., from the Jacobian); was "
                   f"{rep.start[k]:g}")
    lines.append("")
    lines.append("[sources]")
    for k, s in srcs.items():
        lines.append(f"{k} = {_toml(s)}")
    return "\n".join(lines) + "\n"


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    x = float(v)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)
