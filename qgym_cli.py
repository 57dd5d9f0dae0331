"""The ``qgym`` console script: a Ctrl-C while the command line is still being imported (about a second,
more on busy cores) ends it with a sentence, as a Ctrl-C during the work does, not with a traceback."""

from __future__ import annotations

import signal
import sys


def main() -> int:
    """Import the command line and run it; exit status 130 after a Ctrl-C at any point, including a
    second one that lands while the command is reporting the first."""
    try:
        from qgym.cli import main as run

        return run()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping already: a third Ctrl-C changes nothing
        print("qgym: stopped by Ctrl-C", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
