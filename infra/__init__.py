"""Pulumi components of the pipeline; __main__.py wires them together."""
