"""Every help text renders: argparse %-formats option help, so one stray '%' crashes `pytest --help`."""

import re
import subprocess
import sys

import pytest

from pytest_scaling import options
from pytest_scaling.cli import build_parser

OPTIONS = {option.flag for option in options.OPTIONS if option.command_line}


def test_pytest_help_lists_every_scaling_option(pytester):
    result = pytester.runpytest("--help")
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
    text = result.stdout.str()
    assert set(re.findall(r"--scaling-[a-z-]+", text)) == OPTIONS
    words = " ".join(text.split())
    assert "e.g. gamma:0.05 or *:10%" in words and "%%" not in words  # the escape does not show


def test_pytest_scaling_help_renders_for_every_command():
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(subcommands) == {"train", "runs", "cache"}
    for argv in [[], *([name] for name in subcommands)]:
        result = subprocess.run([sys.executable, "-m", "pytest_scaling.cli", *argv, "--help"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and result.stdout.startswith("usage: pytest-scaling"), result.stderr
        for action in subcommands.get(argv[0])._actions if argv else ():
            assert all(flag in result.stdout for flag in action.option_strings)
