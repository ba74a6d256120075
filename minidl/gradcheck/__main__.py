"""`python -m minidl.gradcheck`: print the gradient check of every built-in layer and loss."""

from .cli import main

raise SystemExit(main())
