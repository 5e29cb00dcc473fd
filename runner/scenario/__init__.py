"""Cluster scenarios: the spec, the in-process engine run and the Ray actor engine."""
