"""Benchmarks: blurb_lab against a plain transformers Trainer script on the same work."""
