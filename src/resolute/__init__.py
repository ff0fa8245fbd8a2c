"""Resolute: the information system of a coalition's ceasefire guarantee."""

__version__ = "0.1.0"
