"""`pip install . && resolute demo` must work on a fresh machine: every third-party module that
the package imports at module level is one of its declared dependencies (a test-only library
imported there would work in the test environment and break the README's first command)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in deps}


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:  # module level only: lazy imports inside functions are optional tools
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_module_level_import_is_a_declared_dependency():
    declared = _declared()
    dists = packages_distributions()
    missing = {}
    for path in (ROOT / "src" / "resolute").rglob("*.py"):
        for name in _module_level_imports(path):
            if name in sys.stdlib_module_names or name in ("resolute", "__future__"):
                continue
            owners = {d.lower().replace("_", "-") for d in dists.get(name, [name])}
            if not owners & declared:
                missing.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert not missing, f"declare in pyproject.toml [project] dependencies: {missing}"
