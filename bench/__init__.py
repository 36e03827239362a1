"""Benchmarks: `make bench` runs `python bench/run.py` (see bench/run.py)."""
