"""qdc's benchmarks. Each `bench_<area>.py` runs alone, as a module or as a script:

    .venv/bin/python -m benchmarks.bench_dedup --quick
    .venv/bin/python benchmarks/bench_dedup.py --quick

and imports its helpers as `benchmarks.common` either way. `python -m benchmarks.run_all` runs them all.
"""
