"""Run every tutorial and write what each of its Python blocks prints into the ``text`` block that follows it.

    python docs/tutorial_outputs.py                    # every tutorial
    python docs/tutorial_outputs.py multi-agent        # some

A block whose code prints is followed on the page by an "Output" block (``<!-- output -->`` then a ``text`` code
block), regenerated here from a fresh run of the whole tutorial in a new process (the blocks build on each other).
``tests/test_docs.py`` runs the tutorials and checks that the committed output is what they print, numbers aside.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
BLOCK = re.compile(r"```python\n(.*?)```(\n\n<!-- output -->\n```text title=\"Output\"\n.*?```)?", flags=re.DOTALL)
SENTINEL = "@@end-of-block@@"


def code_blocks(text: str) -> list[str]:
    """The tutorial's Python blocks, in order."""
    return [m.group(1) for m in BLOCK.finditer(text)]


def committed_outputs(text: str) -> list[str | None]:
    """Per Python block, the committed output shown after it (``None`` where there is none)."""
    outputs = []
    for m in BLOCK.finditer(text):
        shown = m.group(2)
        outputs.append(None if shown is None else shown.split('"Output"\n', 1)[1].rsplit("```", 1)[0])
    return outputs


def run(text: str, cwd: Path, timeout: float = 600) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the blocks as one script in a fresh process; returns the process and each block's printed output."""
    script = "import torch\ntorch.set_num_threads(1)\n" + "".join(
        f"{code}\nprint({SENTINEL!r}, flush=True)\n" for code in code_blocks(text))
    path = cwd / "tutorial.py"
    path.write_text(script)
    result = subprocess.run([sys.executable, str(path)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    pieces = result.stdout.split(SENTINEL + "\n")
    return result, [piece for piece in pieces[:-1]]


def masked(text: str) -> list[str]:
    """Lines with every temporary directory replaced by ``<tmp>``, every number by ``#`` and runs of spaces by one
    (training noise, timings, temporary paths and the padding of numbers differ between runs and machines)."""
    temporary = re.compile(re.escape(tempfile.gettempdir()) + r"/tmp\w+")
    numbers = [re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", temporary.sub("<tmp>", line))
               for line in text.strip().splitlines()]
    return [" ".join(line.split()) for line in numbers]


def write_outputs(page: Path) -> int:
    """Regenerate the output blocks of one tutorial; returns how many blocks show output."""
    text = page.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        result, outputs = run(text, Path(tmp))
    if result.returncode != 0:
        raise RuntimeError(f"{page.name} failed:\n{result.stderr[-3000:]}")
    iterator = iter(outputs)

    def replace(match: re.Match[str]) -> str:
        printed = next(iterator)
        code = f"```python\n{match.group(1)}```"
        if not printed.strip():
            return code
        return f'{code}\n\n<!-- output -->\n```text title="Output"\n{printed.rstrip()}\n```'

    new = BLOCK.sub(replace, text)
    page.write_text(new)
    return sum(1 for o in outputs if o.strip())


def main(names: list[str]) -> int:
    """Regenerate the outputs of ``names`` (default: every tutorial)."""
    pages = sorted((DOCS / "tutorials").glob("*.md"))
    for page in pages:
        if not names or page.stem in names:
            print(f"{page.name}: {write_outputs(page)} output blocks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
