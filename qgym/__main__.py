"""``python -m qgym`` runs the command line."""

import sys

from qgym.cli import main

sys.exit(main())
