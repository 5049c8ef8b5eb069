"""Benchmarks that print JSON figures, one object per line (``python -m bench``, or each module
alone: ``python -m bench.persistence`` …)."""
