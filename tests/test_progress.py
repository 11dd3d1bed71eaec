"""`mtenvs.progress.Progress`: tqdm on a terminal that reports a width, throttled plain lines anywhere else."""

from __future__ import annotations

import fcntl
import io
import os
import struct
import termios

import pytest

from mtenvs.progress import Progress, ProgressOptions, progress_options, terminal_width


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_are_throttled_and_the_last_one_is_written_on_close() -> None:
    stream, clock = io.StringIO(), Clock()
    with Progress(10, desc="PG", unit="iteration", stream=stream, interval=5.0, clock=clock) as bar:
        assert not bar.uses_tqdm
        bar.update()                      # the first update always writes
        clock.now += 1.0
        bar.update()                      # 1 s later: throttled
        clock.now += 4.0
        bar.update()                      # 5 s after the last line: written
        clock.now += 1.0
        bar.update(2)
    lines = stream.getvalue().splitlines()
    assert lines == ["PG: 1/10 iterations | elapsed 00:00 | remaining 00:00",
                     "PG: 3/10 iterations | elapsed 00:05 | remaining 00:11",
                     "PG: 5/10 iterations | elapsed 00:06 | remaining 00:06"]   # 6 s for 5 units: 6 s for 5 more


def test_a_resumed_bar_counts_from_its_initial_units_and_estimates_from_the_new_ones() -> None:
    stream, clock = io.StringIO(), Clock()
    bar = Progress(4, unit="round", stream=stream, initial=2, clock=clock)
    clock.now += 10.0
    bar.update()
    bar.close()
    bar.close()                           # closing twice writes nothing more
    assert stream.getvalue().splitlines() == ["3/4 rounds | elapsed 00:10 | remaining 00:10"]


def test_a_disabled_bar_writes_nothing() -> None:
    stream = io.StringIO()
    with Progress(3, stream=stream, enabled=False) as bar:
        bar.update(3)
    assert stream.getvalue() == "" and not bar.uses_tqdm


def test_bad_arguments_name_the_field() -> None:
    for kwargs, field in (({"total": -1}, "total"), ({"total": 2.5}, "total"), ({"total": 3, "initial": -1}, "initial"),
                          ({"total": 3, "interval": -1.0}, "interval")):
        with pytest.raises(ValueError, match=field):
            Progress(**kwargs)


def read_all(fd: int) -> str:
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except (BlockingIOError, OSError):
        pass
    return b"".join(chunks).decode(errors="replace")


def test_a_terminal_that_reports_no_width_gets_plain_lines() -> None:
    leader, follower = os.openpty()                  # a new pty reports 0 rows and 0 columns
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
    with open(follower, "w", closefd=True) as stream:
        assert stream.isatty() and terminal_width(stream) == 0
        with Progress(2, desc="run", stream=stream, interval=0.0) as bar:
            bar.update(2)
        assert not bar.uses_tqdm
    text = read_all(leader)
    os.close(leader)
    assert "run: 2/2 its | elapsed" in text


def test_a_terminal_with_a_width_gets_a_tqdm_bar() -> None:
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    with open(follower, "w", closefd=True) as stream:
        assert terminal_width(stream) == 80
        with Progress(2, desc="run", stream=stream, leave=False, position=1) as bar:
            assert bar.uses_tqdm
            bar.update(2)
    text = read_all(leader)
    os.close(leader)
    assert "run:" in text and "/2 [" in text and "elapsed" not in text    # tqdm draws, not plain lines


def test_the_postfix_names_the_current_piece_of_work_and_writes_under_the_throttle() -> None:
    stream, clock = io.StringIO(), Clock()
    with Progress(2, desc="run", unit="unit", stream=stream, interval=2.0, clock=clock) as bar:
        bar.set_postfix("seed=0")          # first line: written
        clock.now += 1.0
        bar.update(postfix="")             # 1 s after the last line: throttled
        bar.set_postfix("seed=1")          # throttled
        clock.now += 2.0
        bar.update(postfix="")             # written; closing writes nothing more
    assert stream.getvalue().splitlines() == ["run: 0/2 units | elapsed 00:00 | remaining ? | seed=0",
                                              "run: 2/2 units | elapsed 00:03 | remaining 00:00"]


def test_a_setting_becomes_a_bar() -> None:
    stream = io.StringIO()
    options = ProgressOptions(leave=False, position=1, stream=stream, interval=0.0, indent="  ")
    with Progress.of(options, 2, desc="PG", unit="iteration") as bar:
        bar.update(2)
    assert stream.getvalue() == "  PG: 2/2 iterations | elapsed 00:00 | remaining 00:00\n"
    assert not Progress.of(False, 2).enabled and not Progress.of(None, 2).enabled
    assert progress_options(True) == ProgressOptions() and progress_options(options) is options
    with pytest.raises(ValueError, match="progress_bar"):
        Progress.of("yes", 2)  # type: ignore[arg-type]


def test_bad_options_name_the_field() -> None:
    for kwargs, field in (({"position": -1}, "position"), ({"position": 1.5}, "position"), ({"interval": -1}, "interval"),
                          ({"leave": 1}, "leave"), ({"indent": 2}, "indent"), ({"delay": -1.0}, "delay")):
        with pytest.raises(ValueError, match=field):
            ProgressOptions(**kwargs)


def test_a_delayed_bar_shows_nothing_before_its_delay_and_nothing_at_all_if_it_ends_sooner() -> None:
    stream, clock = io.StringIO(), Clock()
    with Progress(4, desc="quick", stream=stream, delay=2.0, interval=0.0, clock=clock) as bar:
        clock.now += 1.0
        bar.update(4)
    assert stream.getvalue() == ""
    with Progress(4, desc="slow", unit="step", stream=stream, delay=2.0, interval=10.0, clock=clock) as bar:
        clock.now += 1.0
        bar.update()                       # before the delay: nothing
        clock.now += 1.5
        bar.update()                       # after it: the first line
        clock.now += 1.0
        bar.update(2)                      # throttled; closing writes the last line
    assert stream.getvalue().splitlines() == ["slow: 2/4 steps | elapsed 00:02 | remaining 00:02",
                                              "slow: 4/4 steps | elapsed 00:03 | remaining 00:00"]
