"""Wall time of ``migsim calibrate`` on the measured QEMU runs (tests/data/qemu-measured.csv).

Fits ``rate_window_s`` and ``resume_s`` of the ``qemu`` profile on the train split (143 runs) with
5-fold cross-validation and the held-out test split (55 runs), in-process, after the kernels are
loaded (the CLI adds its start-up). Prints the wall time, model evaluations and the fitted values.
Run: ``python bench/calibrate_qemu.py [--fit FIELD,FIELD] [--folds K]``. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "qemu-measured.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", default="rate_window_s,resume_s")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()

    import models
    from models.policy import get_profile
    from runner.answers import calibrate as cal

    models.simulate({"memory_bytes": [2.0**30]})          # compile / load the kernels first
    t0 = time.perf_counter()
    data = cal.load_data(DATA)
    rep = cal.calibrate(data, get_profile("qemu"), args.fit.split(","), k=args.folds)
    wall = time.perf_counter() - t0
    print(f"calibrate qemu on {DATA.name}: {rep.train_runs} train runs, {rep.folds} folds, "
          f"fit {args.fit}")
    print(f"  wall time     {wall:6.2f} s (final fit: {rep.fit.nfev} evaluations)")
    for k, v in rep.fit.values.items():
        print(f"  {k:14s} {rep.start[k]:.4g} -> {v:.4g} ± {rep.fit.stderr[k]:.2g}")
    print(f"  held-out loss {rep.cv_loss[0]:.4g} -> {rep.cv_loss[1]:.4g}")


if __name__ == "__main__":
    main()
