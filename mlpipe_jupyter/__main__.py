"""`python -m mlpipe_jupyter`: the `mlpipe` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
