"""Tsunagu benchmarks: ``python -m bench`` (``--quick`` for a smoke run of a few seconds)."""
