"""Sweeps: a spec expands into a table of points (spec, plan, values, rng), which runs in batches on Ray or in-process (batch, execute, task, run)."""
