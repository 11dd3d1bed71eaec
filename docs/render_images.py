"""Render the pictures of the docs: a few tasks of every registered family, side by side.

    python docs/render_images.py            # every family
    python docs/render_images.py CartPole   # some families

Each family's environment is rendered (``render_mode="rgb_array"``) on its default task and on tasks of its
``train`` and ``ood`` sets, after a short seeded rollout of random actions, and the frames are tiled into
``docs/assets/families/<Family>.png``. Families whose environment has no ``rgb_array`` mode are reported and skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image

import mtenvs
from mtenvs.core.registry import env_ids

OUT = Path(__file__).resolve().parent / "assets" / "families"
STEPS = 10
HEIGHT = 240


def frames(name: str, count: int = 3) -> list[np.ndarray]:
    """Frames of the default task and of tasks from the ``train`` and ``ood`` sets of family ``name``."""
    family = mtenvs.family(name)
    tasks = [family.default_task()]
    for split in ("train", "ood", "test"):
        if split in family.task_set_names():
            tasks.extend(list(family.task_set(split))[:1])
    env = gym.make(env_ids(name)[0], render_mode="rgb_array")
    images = []
    for i, task in enumerate(tasks[:count]):
        env.reset(seed=i, options={"task": task})
        env.action_space.seed(i)
        for _ in range(STEPS):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                break
        images.append(env.render())
    env.close()
    return images


def tile(images: list[np.ndarray], gap: int = 6) -> Image.Image:
    """Scale every frame to a common height and place them left to right separated by grey gaps."""
    scaled = [Image.fromarray(img).convert("RGB") for img in images]
    scaled = [img.resize((max(1, round(img.width * HEIGHT / img.height)), HEIGHT), Image.Resampling.NEAREST)
              for img in scaled]
    width = sum(img.width for img in scaled) + gap * (len(scaled) - 1)
    canvas = Image.new("RGB", (width, HEIGHT), (200, 200, 200))  # grey gaps separate the frames
    x = 0
    for img in scaled:
        canvas.paste(img, (x, 0))
        x += img.width + gap
    return canvas


def main(names: list[str]) -> int:
    """Render ``names`` (default: every family); returns a process exit code."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names or mtenvs.families():
        modes = gym.spec(env_ids(name)[0]).entry_point
        try:
            images = frames(name)
        except (ValueError, gym.error.Error) as error:
            print(f"{name}: skipped ({error}; entry point {modes})")
            continue
        path = OUT / f"{name}.png"
        tile(images).save(path, optimize=True)
        print(f"{name}: {len(images)} tasks -> {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
