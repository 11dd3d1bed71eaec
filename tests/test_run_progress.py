"""What `mtenvs run` shows while it runs, read back from a pseudo-terminal as a user's terminal would show it.

A toy experiment of two units, each training Coop-LSVI for six episodes through
`learn(progress_bar=ctx.progress)` (slowed to 0.6 s an episode by a callback, so that a unit outlasts the 2 s
before its bar shows), runs in a subprocess whose
standard error is a pty: with a width (a tqdm bar over units and, under it, the method's bar moving during the
unit), with no width (plain lines from both), and with `--quiet` (nothing).
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

SCRIPT = '''
import sys, time
from dataclasses import dataclass
import mtenvs
from agents.lsvi import CoopLSVI
from mtenvs.cli import main
from mtenvs.runner import Experiment, Unit, register

@dataclass(frozen=True)
class ProgressConfig:
    seeds: int = 2

def compute(cfg, unit, ctx):
    model = mtenvs.family("LinearMDP").model({"instance": 0, "n_states": 5, "n_actions": 3, "dim": 4, "horizon": 3})
    algo = CoopLSVI([model], beta=1.0, seed=ctx.seed)
    algo.learn(6, progress_bar=ctx.progress, callback=lambda m, r: time.sleep(PAUSE))
    return {"episodes": algo.num_units}

register(Experiment(name="test-progress", title="progress", config=ProgressConfig,
                    sizes={"quick": {}, "full": {}}, units=lambda cfg: [Unit({"seed": s}) for s in range(cfg.seeds)],
                    compute=compute, aggregate=lambda cfg, records: {}))
PAUSE = float(sys.argv[2])
sys.exit(main(["run", "test-progress", "--out", sys.argv[1], *sys.argv[3:]]))
'''


def run_on_pty(tmp_path: Path, columns: int, *extra: str, pause: float = 0.6) -> str:
    """Run the toy experiment with standard output and error on a pty `columns` wide, pausing `pause` seconds after
    every episode; return what it showed."""
    script = tmp_path / "run_toy.py"
    script.write_text(SCRIPT)
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24 if columns else 0, columns, 0, 0))
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path / "run"), str(pause), *extra], stdout=follower,
                               stderr=follower, cwd=root, env=env)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:          # the last writer closed: the process ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    assert process.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


def test_a_terminal_with_a_width_shows_the_method_bar_moving_under_the_run_bar(tmp_path: Path) -> None:
    text = run_on_pty(tmp_path, 100)
    assert "|" in text and "\r" in text                        # tqdm redraws in place, no plain lines
    assert "elapsed" not in text
    inner = [m.start() for m in re.finditer(r"CoopLSVI:.*?\| ([1-5])/6 \[", text)]
    assert inner, text                                         # the method's bar drew intermediate counts
    first_unit_done = text.find("1/2 [")
    assert first_unit_done > 0 and inner[0] < first_unit_done  # ... while the first unit was still running
    assert re.search(r"test-progress:.*\| [01]/2 \[.*seed=0", text)   # the run's bar names the current unit
    assert re.search(r"test-progress:.*\| 2/2 \[", text)


def test_a_terminal_that_reports_no_width_gets_plain_lines_from_both_bars(tmp_path: Path) -> None:
    lines = [line.strip("\r") for line in run_on_pty(tmp_path, 0).splitlines()]
    run_lines = [line for line in lines if line.startswith("test-progress: ")]
    method_lines = [line for line in lines if line.startswith("  CoopLSVI: ")]
    assert re.fullmatch(r"test-progress: 0/2 units \| elapsed \d\d:\d\d \| remaining \? \| seed=0", run_lines[0])
    assert run_lines[-1].startswith("test-progress: 2/2 units | elapsed")
    # a unit's bar shows once it is 2 s old (at 2.4 s, five episodes done) and writes its last line when it ends
    assert sum(bool(re.match(r"  CoopLSVI: [1-5]/6 episodes \| elapsed 00:0[2-9]", line)) for line in method_lines) == 2
    assert sum(line.startswith("  CoopLSVI: 6/6 episodes") for line in method_lines) == 2
    assert "\x1b[" not in "".join(lines) and "%|" not in "".join(lines)                    # no tqdm drawing


@pytest.mark.parametrize("columns", [0, 100])
def test_quiet_shows_no_progress(tmp_path: Path, columns: int) -> None:
    text = run_on_pty(tmp_path, columns, "--quiet", pause=0.0)
    assert "test-progress (quick, seed 0)" in text                    # the report is still printed
    assert "test-progress:" not in text and "CoopLSVI" not in text and "/2" not in text and "%|" not in text
