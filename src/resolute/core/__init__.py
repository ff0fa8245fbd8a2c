"""Pure algorithms: functions over arrays and dataclasses. No Django, no I/O.

An import-linter contract (pyproject.toml) and tests/test_core_purity.py keep it so.
"""
