"""Scale-out: Dask task and block parallelism (sweeps, many-file statistics, blocked pairwise matrices)."""
