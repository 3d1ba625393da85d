"""Evaluation: metric functions over arrays, the gallery/probe protocol and the report."""
