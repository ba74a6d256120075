"""`python -m minidl.gradcheck`: print the gradient check of every built-in layer and loss."""

import sys

from .cli import main

raise SystemExit(main(sys.argv[1:]))
