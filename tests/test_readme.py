"""The README: exactly two set-up commands, and its Python tour runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_has_the_main_and_test_commands() -> None:
    for marker in ("main-command", "test-command"):
        block = re.search(rf"<!-- {marker} -->\n```bash\n(.+?)\n```", README)
        assert block is not None and block.group(1).startswith('pip install "torch==2.13.0" -e ')


def test_readme_python_blocks_run() -> None:
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL):
        exec(compile(block, "README.md", "exec"), namespace)  # the blocks build on each other
    assert namespace["result"].per_task and namespace["observations"]
