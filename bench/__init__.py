"""Benchmarks: our code against a bare baseline in the same run, reported as ratios (see README.md)."""
