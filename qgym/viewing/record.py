"""A short video of an agent: ``qgym record MODEL --out FILE.gif|.mp4``.

Frames come from the env's ``rgb_array`` rendering, so no display is needed. GIFs are written with
Pillow (a dependency of matplotlib); MP4 needs a video writer: moviepy (the ``qgym[video]`` extra)
or an ``ffmpeg`` program on the PATH.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym.envs.interface import Overlay, Policy
from qgym.files import check_destination, write_atomically
from qgym.training.models import env_for_model
from qgym.training.rollouts import run_episode
from qgym.validation import is_finite_number
from qgym.viewing.trained_model import load_agent
from qgym.viewing.views import view_of

__all__ = ["MissingDependencyError", "collect_frames", "record", "write_video"]

VIDEO_SUFFIXES = (".gif", ".mp4")
MIN_FRAME_WIDTH = 480
"""Frames narrower than this (the 1x1 farm's 240 pixels) are drawn larger, their shape kept, so the
status line under the field (day, return, last reward, weather) fits whole."""


class MissingDependencyError(ValueError):
    """An optional package is needed; the message names the extra that provides it."""


def record(
    model_path: str | Path,
    out: str | Path,
    env_id: str | None = None,
    episodes: int = 1,
    max_frames: int = 300,
    fps: float = 6.0,
    seed: int | None = 0,
    trust_pickle: bool = False,
    env_kwargs: dict[str, Any] | None = None,
) -> Path:
    """Play the agent and write the frames to ``out`` (.gif or .mp4); returns the path written. The env
    is ``env_id`` made with ``env_kwargs``, by default the model's run's (its ``config.yml``)."""
    out = Path(out)
    _check_suffix(out)
    _check_fps(fps)
    check_destination(out, "--out")  # before playing: a folder, a device or a read-only place
    if out.suffix.lower() == ".mp4":
        _mp4_writer()  # fail before playing when no writer exists
    chosen = env_for_model(model_path, env_id, env_kwargs, trust_pickle)
    env_id = chosen.env_id
    env = gym.make(env_id, render_mode="rgb_array", **chosen.env_kwargs)
    try:
        agent = load_agent(model_path, env, env_id, trust_pickle)
        frames, returns = collect_frames(env, agent.act, episodes, max_frames, seed)
    finally:
        env.close()
    write_video(frames, out, fps)
    shown = ", ".join(f"{total:.1f}" for total in returns) or "none finished"
    print(f"wrote {out} ({len(frames)} frames, returns of finished episodes: {shown})")
    return out


def collect_frames(
    env: gym.Env[Any, Any],
    policy: Policy,
    episodes: int = 1,
    max_frames: int = 300,
    seed: int | None = 0,
    advice: bool = False,
) -> tuple[list[NDArray[np.uint8]], list[float]]:
    """Frames of ``policy(observation, step) -> action`` playing up to ``episodes`` episodes (at most
    ``max_frames`` frames), and the returns of the episodes that finished. With ``advice`` every
    frame shows the action the policy takes next, drawn by the env."""
    view = view_of(env)
    frames: list[NDArray[np.uint8]] = []
    returns: list[float] = []
    size: tuple[int, int] | None = None
    for episode in range(episodes):
        for step in run_episode(
            env, policy, None if seed is None else seed + episode, max_frames - len(frames) - 1
        ):
            action = policy(step.observation, step.t) if advice and not step.done else None
            if size is None:
                size = _frame_size(view.draw())
            frames.append(view.draw(Overlay(action=action, size=size)))
            if step.done:
                returns.append(step.episode_return)
        if len(frames) >= max_frames:
            break
    return frames, returns


def _frame_size(frame: NDArray[np.uint8]) -> tuple[int, int] | None:
    """The (width, height) to draw frames at: None (the env's own) unless narrower than
    :data:`MIN_FRAME_WIDTH`, then that width at the same shape."""
    height, width = frame.shape[:2]
    if width >= MIN_FRAME_WIDTH:
        return None
    return MIN_FRAME_WIDTH, round(height * MIN_FRAME_WIDTH / width)


def write_video(frames: Sequence[NDArray[np.uint8]], out: str | Path, fps: float = 6.0) -> None:
    """Write (H, W, 3) uint8 frames as a GIF (Pillow) or MP4 (moviepy or ffmpeg)."""
    out = Path(out)
    _check_suffix(out)
    if not frames:
        raise ValueError("there are no frames to write")
    _check_fps(fps)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".gif":
        _write_gif(frames, out, fps)
    else:
        _mp4_writer()(frames, out, fps)


def _check_fps(fps: float) -> None:
    if not (is_finite_number(fps) and fps > 0):
        raise ValueError(f"--fps must be a positive number of frames a second, got {fps}")


def _write_gif(frames: Sequence[NDArray[np.uint8]], out: Path, fps: float) -> None:
    try:
        from PIL import Image
    except ImportError as error:  # pragma: no cover - Pillow comes with matplotlib
        raise MissingDependencyError(
            "writing a GIF needs Pillow: pip install pillow (it comes with matplotlib)"
        ) from error
    images = [Image.fromarray(np.asarray(frame, dtype=np.uint8)) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0,
        optimize=True,
    )  # fmt: skip
    write_atomically(out, buffer.getvalue())


def _mp4_writer() -> Any:
    """A function writing frames to an MP4 file, or a MissingDependencyError naming the extra."""
    clip_class = _moviepy_clip_class()
    if clip_class is not None:

        def with_moviepy(frames: Sequence[NDArray[np.uint8]], out: Path, fps: float) -> None:
            clip = clip_class([np.asarray(frame) for frame in frames], fps=fps)
            clip.write_videofile(str(out), codec="libx264", logger=None)

        return with_moviepy
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is not None:

        def with_ffmpeg(frames: Sequence[NDArray[np.uint8]], out: Path, fps: float) -> None:
            _ffmpeg(ffmpeg, frames, out, fps)

        return with_ffmpeg
    raise MissingDependencyError(
        "writing .mp4 needs a video writer: install the extra with `pip install 'qgym[video]'` "
        "(moviepy) or put an ffmpeg program on the PATH; or write a .gif, which needs nothing more"
    )


def _moviepy_clip_class() -> Any:
    """moviepy's ImageSequenceClip (moviepy 2 or 1), or None without moviepy."""
    import importlib

    for module in ("moviepy", "moviepy.editor"):
        try:
            clip_class: Any = importlib.import_module(module).ImageSequenceClip
            return clip_class
        except (ImportError, AttributeError):
            continue
    return None


def _ffmpeg(program: str, frames: Sequence[NDArray[np.uint8]], out: Path, fps: float) -> None:
    import subprocess

    height, width = frames[0].shape[:2]
    # libx264 with yuv420p needs even sides: pad by one pixel where needed.
    command = [
        program, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "-",
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", "-vcodec", "libx264", str(out),
    ]  # fmt: skip
    payload = b"".join(np.ascontiguousarray(frame, dtype=np.uint8).tobytes() for frame in frames)
    result = subprocess.run(command, input=payload, capture_output=True, check=False)
    if result.returncode != 0:
        raise ValueError(f"ffmpeg could not write {out}: {result.stderr.decode(errors='replace').strip()}")


def _check_suffix(out: Path) -> None:
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"--out must end in .gif or .mp4, got {out.name}")
