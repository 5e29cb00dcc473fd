"""``migsim calibrate``: fit policy constants to measured migrations (runner.answers.calibrate)."""
