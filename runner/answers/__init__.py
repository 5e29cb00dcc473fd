"""Answers rather than tables: frontiers (goal-seek), calibration of profiles, run comparison.

- :mod:`runner.answers.frontier` — for every combination of a spec's other axes, the boundary value
  of one input under a SQL predicate, by vectorised bisection over ``models.simulate``.
- :mod:`runner.answers.calibrate` — least-squares fit of policy constants to measured migrations.
- :mod:`runner.answers.compare` — two runs (or a run and measurements) joined on their inputs.
"""
