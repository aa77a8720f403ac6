"""Benchmarks, run by hand (`make bench`, or one at a time: `.venv/bin/python -m bench.bench_e2e`).

Each `bench_*.py` writes its figures to bench/results/; `python -m bench.report` gathers them in
docs/performance.md. Modules starting with `_` are their parts. The fake Bot API is the tests' own
(tests/utils/fake_bot_api.py).
"""
