"""``python -m qgym`` runs the command line."""

import sys

from qgym.cli import main

if __name__ == "__main__":
    sys.exit(main())
