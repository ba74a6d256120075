"""``python -m minidl.stats [DIR] [--json | --plot]``: runs `minidl.stats.cli.main` and exits with its status."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
