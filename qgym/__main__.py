"""``python -m qgym`` runs the command line through the ``qgym`` console script's own launcher
(``qgym_cli.main``): the same Ctrl-C handling and the same quick exit. Only a Ctrl-C while the
``qgym`` package itself imports (before this module runs) still ends in Python's traceback."""

import sys

from qgym_cli import main

if __name__ == "__main__":
    sys.exit(main())
