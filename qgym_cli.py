"""The ``qgym`` console script: a Ctrl-C while the command line is still being imported (about a second,
more on busy cores) ends it with a sentence, as a Ctrl-C during the work does, not with a traceback;
and a command stopped by Ctrl-C ends at once, so a second Ctrl-C cannot land in Python's shutdown; a
finished one skips the shutdown's sweeps of the libraries' objects."""

from __future__ import annotations

import gc
import os
import signal
import sys

STOPPED = 130
"""The exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it."""


def main() -> int:
    """Import the command line and run it; exit status 130 after a Ctrl-C at any point, including a
    second one that lands while the command is reporting the first."""
    try:
        from qgym.cli import main as run

        status = run()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping already: another Ctrl-C changes nothing
        print("qgym: stopped by Ctrl-C", file=sys.stderr)
        status = STOPPED
    if status == STOPPED:
        # The command kept what it had (files are written whole) and said so; the interpreter's
        # shutdown would join threads and run exit handlers, where a second Ctrl-C ends in a traceback
        # and status -2. End now instead: the workers end with their parent.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(STOPPED)
    # The command is done and its files are closed. Python's shutdown would now sweep, collection after
    # collection, every object that scipy, numba and torch built at import: 0.3-0.5 s of a 2 s run
    # (benchmarks/bench_seeds.py --end-to-end). Frozen objects are left out of those sweeps; each is
    # still released, and a file still flushed, when its last reference goes.
    gc.freeze()
    return status


if __name__ == "__main__":
    sys.exit(main())
