"""``python -m separation.engine fetch-weights | check-weights``: install-time model set-up."""

import sys

from .weights import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
