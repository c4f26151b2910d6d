"""What the benchmarks in ``bench/`` share: processes, the load generator, API calls, reports.

This package is not a benchmark itself: ``make bench`` runs only the top-level ``bench/*.py``.
"""
