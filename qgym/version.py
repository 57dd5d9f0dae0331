"""The qgym version (read by the build, recorded in model files)."""

__version__ = "0.3.0"
