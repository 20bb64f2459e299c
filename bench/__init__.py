"""Benchmarks of the gateway against bare baselines, measured in the same run.

Run `python -m bench` from the project root (see `bench/README.md`).
"""
