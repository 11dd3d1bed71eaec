"""The README: exactly two set-up commands, its Python tour runs as written, and its statements hold."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import tomllib

import mtenvs

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_has_the_main_and_test_commands() -> None:
    for marker in ("main-command", "test-command"):
        block = re.search(rf"<!-- {marker} -->\n```bash\n(.+?)\n```", README)
        assert block is not None and block.group(1).startswith('pip install "torch==2.13.0" -e ')
    test_command = re.search(r"<!-- test-command -->\n```bash\n(.+?)\n```", README).group(1)
    assert test_command.endswith("python -m pytest -q")  # the whole suite: no marker deselected


def test_readme_python_blocks_run() -> None:
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL):
            exec(compile(block, "README.md", "exec"), namespace)  # the blocks build on each other
    assert namespace["result"].per_task and namespace["observations"]
    # Every `print(...)  # value` comment that shows a value (a list or `Name(...)`) is what the line prints
    # (`...` ends a shortened list).
    lines = printed.getvalue().splitlines()
    shown = re.findall(r"^print\(.*\)\s+# ((?:\[|[A-Z]\w*\().+)$", README, flags=re.MULTILINE)
    assert shown
    for comment in shown:
        expected = comment.strip()
        prefix = expected.removesuffix(", ...]") if expected.endswith(", ...]") else None
        assert any(line == expected or (prefix is not None and line.startswith(prefix)) for line in lines), comment


def test_readme_states_the_families_and_the_cartpole_action_spaces() -> None:
    first = re.search(r"print\(mtenvs\.families\(\)\)\s+# \[(.+), \.\.\.\]", README).group(1)
    names = [n.strip().strip("'") for n in first.split(",")]
    assert mtenvs.families()[:len(names)] == names
    assert "`Box(-1, 1, (1,))`" in README and "`Discrete(2)`" in README
    assert gym.make("mtenvs/CartPole-v0").action_space == gym.spaces.Box(-1.0, 1.0, (1,))
    assert gym.make("mtenvs/CartPole-v0", discrete_actions=True).action_space == gym.spaces.Discrete(2)


def test_readme_links_exist_in_the_repository() -> None:
    links = [target for target in re.findall(r"\]\(([^)]+)\)", README) if not target.startswith("http")]
    assert links
    for target in links:
        assert (ROOT / target).exists(), f"README links {target}, which is not in the repository"


@pytest.mark.slow  # collects the whole suite
def test_readme_describes_the_quick_loop_and_the_slow_marker() -> None:
    assert 'python -m pytest -m "not slow"' in README
    count = int(re.search(r"skips the (\d+) tests marked `slow`", README).group(1))
    markers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("slow:") and "not slow" in m for m in markers)
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "slow", "-p", "no:cacheprovider"],
                               cwd=ROOT, capture_output=True, text=True, timeout=300).stdout
    slow = int(re.search(r"(\d+)/\d+ tests collected", collected).group(1))
    assert count == pytest.approx(slow, abs=3)  # the README's number, within a few tests of what is marked
