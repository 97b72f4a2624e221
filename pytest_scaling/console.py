"""Where training shows its progress under pytest: a rich console on a person's terminal (a live
bar that shares the line with pytest's reporter), else progress lines through the terminal reporter."""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest


def live_terminal(config: pytest.Config) -> bool:
    """Whether pytest writes to a person's terminal (a tty with markup, outside CI) rather than a log.

    A log gets progress lines instead of a live bar, and one line per claim instead of a table.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return False
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    isatty = getattr(reporter._tw._file, "isatty", None)
    return bool(reporter._tw.hasmarkup and isatty and isatty())


def terminal_console(config: pytest.Config):
    """A rich console on the real terminal, or None off one.

    Training runs inside a test, while pytest captures file descriptor 1, so the console
    writes to a duplicate of the terminal's descriptor taken now (outside capture).
    """
    if not live_terminal(config):
        return None
    writer = config.pluginmanager.get_plugin("terminalreporter")._tw
    try:
        file = open(os.dup(writer._file.fileno()), "w", encoding="utf-8", errors="replace")  # noqa: SIM115
    except (AttributeError, OSError, ValueError):
        return None
    config.add_cleanup(file.close)  # it lives as long as the session, not a block
    return make_terminal_console(file, writer)


def make_terminal_console(file, writer):
    from rich.console import Console

    class TerminalConsole(Console):
        """A console that shares the terminal with pytest's reporter: a live display gets a
        line of its own, and when it is gone the cursor goes back to the end of pytest's line."""

        @contextmanager
        def live_region(self):
            writer.flush()
            column = writer.width_of_current_line
            self.file.write("\n")
            self.file.flush()
            try:
                yield
            finally:  # a transient bar leaves the cursor at the start of its line, one below pytest's
                self.file.write("\x1b[1A" + (f"\x1b[{column}C" if column else ""))
                self.file.flush()

    return TerminalConsole(file=file)


def progress_writer(config: pytest.Config):
    """Write a progress line through the terminal reporter, past the capture of the test that trains."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return None  # an xdist worker's output does not reach the log
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(line: str) -> None:
        if capture is None:
            reporter.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
        reporter.flush()

    return write
