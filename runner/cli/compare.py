"""``migsim compare RUN_A RUN_B``: per-output changes between two runs (runner.answers.compare)."""
