"""The play window is found by its title, as desktop tools and scripts look for it:
``xdotool search --name qgym`` under a real X server (Xvfb)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

needs_x = pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
    reason="needs an X server and xdotool: apt-get install xvfb xdotool",
)


@pytest.fixture
def display() -> Iterator[str]:
    """A private Xvfb display; its number is the first free one, as Xvfb reports it."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@needs_x
@pytest.mark.slow
def test_xdotool_finds_the_play_window_by_its_name(display: str) -> None:
    env = {**os.environ, "DISPLAY": display, "SDL_AUDIODRIVER": "dummy"}
    env.pop("SDL_VIDEODRIVER", None)
    env.setdefault("LANG", "C.UTF-8")  # the locale under which Xlib's title was unreadable
    game = subprocess.Popen(
        [sys.executable, "-m", "qgym", "play", "FrozenLake-v1", "--seed", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        found = ""
        for _ in range(120):
            search = subprocess.run(
                ["xdotool", "search", "--name", "qgym"], env=env, capture_output=True, text=True, check=False
            )
            found = search.stdout.strip()
            if found or game.poll() is not None:
                break
            time.sleep(0.25)
        assert game.poll() is None, f"qgym play exited with {game.returncode}"
        assert found, "xdotool search --name qgym found no window"
        name = subprocess.run(
            ["xdotool", "getwindowname", found.split()[0]],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert name.stdout.strip() == "qgym play FrozenLake-v1"
    finally:
        game.terminate()
        game.wait(timeout=10)
