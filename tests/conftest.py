"""Test-wide settings: headless pygame, SB3 logs kept out of /tmp."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
