"""Render the pictures of the docs: four tasks of every registered family, labelled, and an episode GIF of each.

    python docs/render_images.py            # every family
    python docs/render_images.py CartPole   # some families

Each family's environment is rendered (``render_mode="rgb_array"``) on four visibly different tasks (the default
task, then new layouts or floor plans, then the tasks of its ``train``, ``ood`` and ``test`` sets farthest from the
default) in the last state of a short rollout (before its episode ends) of the family's first reference policy, or of
seeded random actions when it has none. The frames go into a 2 × 2 grid, each captioned with the values of the
parameters in which the four tasks differ: ``docs/assets/families/<Family>.png``. The home page's gallery shows
``docs/assets/gallery/<Family>.gif``: one episode (at most ``GIF_FRAMES`` frames) of the same policy on the
family's ``ood`` task farthest from the default, small enough for a page of sixteen. Families whose environment has
no ``rgb_array`` mode are reported and skipped.
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
GALLERY = Path(__file__).resolve().parent / "assets" / "gallery"
STEPS = 10
HEIGHT = 240
CELL = (400, 240)        # one task's frame in the family picture
CAPTION = 40             # caption height under each frame
GIF_SIZE = (240, 160)    # one gallery GIF
GIF_FRAMES = 60          # at most this many frames (every ``stride``-th step of an episode)
GIF_MS = 80              # per frame


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
    if not categorical and candidates:
        widest = max(family.parameters, key=lambda p: _spread(family, p, candidates))
        for task in (min(candidates, key=lambda t: t[widest]), max(candidates, key=lambda t: t[widest])):
            if len(chosen) < count and task.params != chosen[0].params and task not in chosen:
                chosen.append(task)  # the extremes of the parameter that varies most across the sets
    named = [name for name in family.task_set_names() if name not in ("train", "test", "ood")]
    for task in (t for set_name in named for t in list(family.task_set(set_name))[:4]):
        if len(chosen) < count and all(task.params != other.params for other in chosen):
            chosen.append(task)  # the paper's named tasks next (e.g. both tasks of a two-task set)
            break
    for split in ("train", "ood", "test"):
        if split in family.task_set_names() and len(chosen) < count:
            farthest = _farthest(family, [t for t in family.task_set(split) if t not in chosen])
            chosen.extend([farthest] if farthest is not None else [])
    return chosen[:count]


def _farthest(family: Any, tasks: list[Any]) -> Any:
    """The task whose numeric parameters lie farthest from the default task's, each scaled by its bounds."""
    default = family.default_task()
    spans = {}
    for name, spec in family.parameters.items():
        info = spec.describe()
        low, high = info.get("low"), info.get("high")
        if isinstance(default[name], (int, float)) and not isinstance(default[name], bool) and low is not None \
                and high is not None and np.isfinite(low) and np.isfinite(high) and high > low:
            spans[name] = high - low

    def distance(task: Any) -> float:
        return sum(((task[n] - default[n]) / span) ** 2 for n, span in spans.items()
                   if isinstance(task[n], (int, float)))

    return max(tasks, key=distance) if tasks else None


def captions(name: str, tasks: list[Any]) -> list[str]:
    """One caption per task: the values of the parameters that differ between ``tasks`` (``default`` first)."""
    family = mtenvs.family(name)
    varying = [p for p in family.parameters if len({_short(t[p]) for t in tasks}) > 1]
    varying.sort(key=lambda p: -_spread(family, p, tasks))  # the most different first
    lines = []
    for i, task in enumerate(tasks):
        values = ", ".join(f"{p} = {_short(task[p])}" for p in varying[:4]) + (", ..." if len(varying) > 4 else "")
        lines.append(("default: " if i == 0 else "") + (values or "default task"))
    return lines


def _spread(family: Any, parameter: str, tasks: list[Any]) -> float:
    """The range of ``parameter`` over ``tasks`` as a fraction of its bounds (1 for categorical values)."""
    values = [t[parameter] for t in tasks]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return 1.0
    info = family.parameters[parameter].describe()
    low, high = info.get("low"), info.get("high")
    span = high - low if low is not None and high is not None and np.isfinite(high - low) and high > low else 1.0
    return (max(values) - min(values)) / span


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return f"[{len(value)} values]"
    return str(value)


def frames(name: str, count: int = 4) -> list[np.ndarray]:
    """Frames of ``count`` visibly different tasks of family ``name`` (see `pick_tasks`), each after a short
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


def _font(size: int) -> Any:
    from PIL import ImageFont

    for path in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    import matplotlib

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)


def _fit(frame: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """The frame scaled to fit ``size`` (aspect kept; pixel art stays sharp), centred on a white background."""
    image = Image.fromarray(frame).convert("RGB")
    scale = min(size[0] / image.width, size[1] / image.height)
    resample = Image.Resampling.NEAREST if scale >= 1 and image.height <= 64 else Image.Resampling.LANCZOS
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), resample)
    canvas = Image.new("RGB", size, (255, 255, 255))
    canvas.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return canvas


def crop(images: list[np.ndarray], margin: int = 12) -> list[np.ndarray]:
    """The frames cut to the box that holds every frame's content (pixels unlike the first frame's corner colour),
    one box for all so that the tasks keep a common scale."""
    if any(image.shape != images[0].shape for image in images):
        return images
    background = images[0][0, 0]
    mask = np.zeros(images[0].shape[:2], dtype=bool)
    for image in images:
        mask |= np.any(np.abs(image.astype(int) - background.astype(int)) > 8, axis=-1)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return images
    top, bottom = max(rows[0] - margin, 0), min(rows[-1] + margin + 1, mask.shape[0])
    left, right = max(cols[0] - margin, 0), min(cols[-1] + margin + 1, mask.shape[1])
    return [image[top:bottom, left:right] for image in images]


def grid(images: list[np.ndarray], labels: list[str], columns: int = 2, gap: int = 6) -> Image.Image:
    """Frames in a grid of ``CELL``-sized cells, each with its caption underneath."""
    from PIL import ImageDraw

    images = crop(images)

    rows = -(-len(images) // columns)
    width, height = CELL[0], CELL[1] + CAPTION
    canvas = Image.new("RGB", (columns * width + (columns - 1) * gap, rows * height + (rows - 1) * gap), (200, 200, 200))
    draw, font = ImageDraw.Draw(canvas), _font(13)
    for i, (frame, label) in enumerate(zip(images, labels, strict=True)):
        x, y = (i % columns) * (width + gap), (i // columns) * (height + gap)
        canvas.paste(_fit(frame, CELL), (x, y))
        draw.rectangle((x, y + CELL[1], x + width - 1, y + height - 1), fill=(255, 255, 255))
        words, lines = label.split(" "), [""]
        for word in words:  # wrap to the cell's width
            trial = f"{lines[-1]} {word}".strip()
            if draw.textlength(trial, font=font) > width - 12 and lines[-1]:
                lines.append(word)
            else:
                lines[-1] = trial
        for j, line in enumerate(lines[:2]):
            draw.text((x + 6, y + CELL[1] + 4 + 17 * j), line, fill=(30, 30, 30), font=font)
    return canvas


def episode(name: str) -> tuple[list[np.ndarray], str]:
    """Frames of one episode (several when they are short) of the family's ``ood`` task farthest from the default
    (else the last picked task), under its first reference policy (seeded random actions when it has none); and that
    task's caption."""
    family = mtenvs.family(name)
    ood = list(family.task_set("ood")) if "ood" in family.task_set_names() else []
    task = _farthest(family, ood) if ood else pick_tasks(name)[-1]
    env = gym.make(env_ids(name)[0], render_mode="rgb_array")
    obs, _ = env.reset(seed=0, options={"task": task})
    env.action_space.seed(0)
    references = family.reference_policies
    policy = next(iter(references.values()))([env.unwrapped.task]) if references else None
    images = [env.render()]
    limit = getattr(env.spec, "max_episode_steps", None) or 200
    for attempt in range(1, 10):  # short episodes are followed by more on the same task, for a clip of 20+ frames
        for _ in range(min(limit, 400)):
            action = env.action_space.sample() if policy is None else np.asarray(policy(np.asarray(obs)[None]))[0]
            obs, _, terminated, truncated, _ = env.step(action)
            images.append(env.render())
            if terminated or truncated:
                break
        if len(images) >= 20:
            break
        obs, _ = env.reset(seed=attempt, options={"task": task})
        images.append(env.render())
    env.close()
    stride = max(1, -(-len(images) // GIF_FRAMES))
    return images[::stride], captions(name, [family.default_task(), task])[1]


def save_gif(images: list[np.ndarray], path: Path) -> None:
    """A looping GIF of ``images``, each fitted into ``GIF_SIZE``, on one shared 64-colour palette."""
    frames_ = [_fit(image, GIF_SIZE) for image in crop(images)]
    palette = frames_[len(frames_) // 2].quantize(64, dither=Image.Dither.NONE)
    quantized = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames_]
    quantized[0].save(path, save_all=True, append_images=quantized[1:], duration=GIF_MS, loop=0, optimize=True,
                      disposal=1)


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
        grid(images, captions(name, pick_tasks(name))).quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
        GALLERY.mkdir(parents=True, exist_ok=True)
        clip, _ = episode(name)
        gif = GALLERY / f"{name}.gif"
        save_gif(clip, gif)
        print(f"{name}: {len(images)} tasks -> {path.name}; {len(clip)} frames, {gif.stat().st_size // 1024} KB -> {gif.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
