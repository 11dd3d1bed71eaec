"""Render the pictures of the docs: a few tasks of every registered family, side by side.

    python docs/render_images.py            # every family
    python docs/render_images.py CartPole   # some families

Each family's environment is rendered (``render_mode="rgb_array"``) on four visibly different tasks (the default
task, then new layouts or floor plans, then tasks of its ``train`` and ``ood`` sets) in the last state of a short
rollout (before its episode ends) of the family's first reference policy, or of seeded random actions when it has
none; the frames are tiled into ``docs/assets/families/<Family>.png``. Families whose environment has no
``rgb_array`` mode are reported and skipped.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # render this checkout, not an installed copy
import mtenvs
from mtenvs.core.registry import env_ids

OUT = Path(__file__).resolve().parent / "assets" / "families"
STEPS = 10
HEIGHT = 240


def pick_tasks(name: str, count: int = 4) -> list[Any]:
    """The default task, then tasks of the family's sets that show a categorical value not yet shown (a new layout,
    floor plan, ...), then one more task of its own named sets, then the first tasks of the ``train``, ``ood`` and
    ``test`` sets."""
    family = mtenvs.family(name)
    categorical = [p for p, spec in family.parameters.items() if spec.describe()["kind"] == "categorical"]
    candidates = [t for set_name in family.task_set_names() for t in list(family.task_set(set_name))[:10]]
    chosen, seen = [family.default_task()], {(p, family.default_task()[p]) for p in categorical}
    for task in candidates:
        new = {(p, task[p]) for p in categorical} - seen
        if new and len(chosen) < count:
            chosen.append(task)
            seen |= new
    named = [name for name in family.task_set_names() if name not in ("train", "test", "ood")]
    for task in (t for set_name in named for t in list(family.task_set(set_name))[:4]):
        if len(chosen) < count and all(task.params != other.params for other in chosen):
            chosen.append(task)  # the paper's named tasks next (e.g. both tasks of a two-task set)
            break
    for split in ("train", "ood", "test"):
        if split in family.task_set_names() and len(chosen) < count:
            chosen.extend(t for t in list(family.task_set(split))[:1] if t not in chosen)
    return chosen[:count]


def frames(name: str, count: int = 4) -> list[np.ndarray]:
    """Frames of ``count`` visibly different tasks of family ``name`` (see :func:`pick_tasks`), each after a short
    rollout of the family's first reference policy (seeded random actions when it has none)."""
    env = gym.make(env_ids(name)[0], render_mode="rgb_array")
    references = mtenvs.family(name).reference_policies
    images = []
    for i, task in enumerate(pick_tasks(name, count)):
        obs, _ = env.reset(seed=i, options={"task": task})
        env.action_space.seed(i)
        policy = next(iter(references.values()))([env.unwrapped.task]) if references else None
        frame = env.render()
        for _ in range(STEPS):  # the last frame before the episode ends
            action = env.action_space.sample() if policy is None else np.asarray(policy(np.asarray(obs)[None]))[0]
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
            frame = env.render()
        images.append(frame)
    env.close()
    return images


def tile(images: list[np.ndarray], gap: int = 6) -> Image.Image:
    """Scale every frame to a common height and place them left to right separated by grey gaps."""
    scaled = [Image.fromarray(img).convert("RGB") for img in images]
    # Pixel art (small grids) is enlarged with sharp edges; larger frames are reduced with antialiasing.
    scaled = [img.resize((max(1, round(img.width * HEIGHT / img.height)), HEIGHT),
                         Image.Resampling.NEAREST if img.height <= HEIGHT else Image.Resampling.LANCZOS)
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
        env_class = gym.spec(env_ids(name)[0]).entry_point
        module, _, attribute = env_class.partition(":")
        if "rgb_array" not in getattr(importlib.import_module(module), attribute).metadata.get("render_modes", []):
            print(f"{name}: skipped (its environment has no rgb_array rendering)")
            continue
        images = frames(name)
        path = OUT / f"{name}.png"
        # A 256-colour palette keeps the antialiased pictures small (no dithering: flat colours stay flat).
        tile(images).quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
        print(f"{name}: {len(images)} tasks -> {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
