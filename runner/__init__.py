"""migsim's runner: everything that runs the models (CLI, sweeps, Ray, Parquet, queries, plots)."""
