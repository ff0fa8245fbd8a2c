"""Same as `resolute bench ingest`, for running from a checkout: python bench/ingest.py [--count N] ...

The benchmark lives in resolute.bench so the installed command and this script cannot drift apart.
"""

from __future__ import annotations

import sys

from resolute.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "ingest", *sys.argv[1:]]))
