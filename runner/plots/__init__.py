"""Figures of runs: sweep charts (charts) and scenario timelines and makespans (timeline)."""
