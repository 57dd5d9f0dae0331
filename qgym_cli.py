"""The ``qgym`` console script: a Ctrl-C while the command line is still being imported (about a second,
more on busy cores) ends it with a sentence, as a Ctrl-C during the work does, not with a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    """Import the command line and run it; exit status 130 after a Ctrl-C at any point."""
    try:
        from qgym.cli import main as run
    except KeyboardInterrupt:
        print("qgym: stopped by Ctrl-C", file=sys.stderr)
        return 130
    return run()


if __name__ == "__main__":
    sys.exit(main())
