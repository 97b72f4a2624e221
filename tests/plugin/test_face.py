"""The plugin's face: one option table for pytest, its ini keys and the CLI; claims recognised by a
fixture or a marker, never by a name prefix; records kept on the session; plots named by the claim."""

import json

import pytest

from pytest_scaling import cli, options

PLAIN_FIXTURE = '''
import pytest

@pytest.fixture
def scaling_factor():
    return 2

def test_uses_its_own_fixture(scaling_factor):
    assert scaling_factor == 2
'''

MARKED = '''
import pytest
from pytest_scaling import Estimate, expect

SCALING_PLOTS = ("compute_loss", "nopt")

@pytest.mark.scaling
def test_marked_claim():
    expect(Estimate(-0.3, "normal", runs=3, se=0.05), "slope").below(0)
'''


def test_a_users_scaling_fixture_does_not_wake_the_plugin(pytester):
    """Only the listed fixtures and the marker make a claim: a fixture named scaling_* is the user's own."""
    pytester.makepyfile(test_plain=PLAIN_FIXTURE)
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1)
    output = result.stdout.lines + result.stderr.lines
    mentions = [line for line in output if "pytest-scaling" in line]
    assert not mentions, output


def test_a_marked_test_is_a_claim_and_its_plots_reach_the_report(project, tmp_path):
    """``@pytest.mark.scaling`` makes a claim without the fixture; its module's SCALING_PLOTS rides on
    each record into report.json, with the module the page groups it by."""
    project.makepyfile(test_claims=MARKED)
    result = project.runpytest("--co")
    result.stdout.fnmatch_lines(["collected 1 item", "pytest-scaling · budget micro*"])
    report_dir = tmp_path / "report"
    result = project.runpytest("--scaling-no-train", f"--scaling-report={report_dir}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*= pytest-scaling =*"])
    (claim,) = json.loads((report_dir / "report.json").read_text())["claims"]
    assert claim["plots"] == ["compute_loss", "nopt"] and claim["module"] == "test_claims"
    assert claim["verdict"] == "confirmed"


def test_claim_records_stay_with_their_session(project):
    """Records and settings live on the session's state: an in-process session leaves the claims
    module's own (standalone) log as it found it."""
    import pytest_scaling.claims as claims

    claims.configure(confidence=0.9)
    project.makepyfile(test_claims=MARKED)
    project.runpytest("--scaling-no-train", "--scaling-confidence=0.99").assert_outcomes(passed=1)
    assert claims.take_records() == [] and claims.settings.confidence == 0.9
    claims.configure()


def test_every_option_is_defined_once():
    """One row per option: pytest's flag and ini key, the CLI's flag, the choices both check."""
    names = [option.name for option in options.OPTIONS]
    assert len(names) == len(set(names))
    assert all(option.dest == "scaling_" + option.name.replace("-", "_") for option in options.OPTIONS)
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in commands.items():
        flags = {flag for action in sub._actions for flag in action.option_strings}
        shared = {option.cli_flag or f"--{option.name}" for option in options.cli_options(name)}
        assert shared <= flags and (flags - shared) <= {"-h", "--help", "--grid", "--format"}, name
    assert options.BY_NAME["columns"].field == "import_columns"


def test_the_columns_option_reaches_the_session_options(pytester):
    mapping = "N=params D=tokens loss=val_loss seed=seed step=step"
    config = pytester.parseconfig(f"--scaling-columns={mapping}", "--scaling-import=sweep.csv")
    assert options.given_on_command_line(config)
    built = options.scaling_options(config)
    assert built.import_columns == mapping and built.import_csv == "sweep.csv"
    assert not options.given_on_command_line(pytester.parseconfig())
    pytester.makeini("[pytest]\nscaling_columns = N=params D=tokens\n")
    assert options.scaling_options(pytester.parseconfig()).import_columns == "N=params D=tokens"


def test_the_cli_checks_options_as_the_plugin_does(capsys):
    assert cli.main(["runs", "--dataset", "cifar"]) == 2
    assert "--dataset: unknown dataset 'cifar'; choose one of: auto, mnist, fashion-mnist" in capsys.readouterr().err
    assert cli.main(["train", "--group-size", "0"]) == 2
    assert "--group-size must be a positive integer, got '0'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--scaling-family: unknown policy 'all'; choose one of: finding"):
        options.check(options.BY_NAME["family"], "all")


def test_a_conftest_hook_adds_to_the_report(project, tmp_path):
    """pytest_scaling_update_report_json (hookspecs.py): a project's conftest edits report.json."""
    project.makepyfile(test_claims=MARKED)
    project.makeconftest('''
def pytest_scaling_update_report_json(config, report):
    report["trainer_commit"] = "abc123"
    report["claims"][0]["note"] = "seen by the hook"
''')
    report_dir = tmp_path / "report"
    result = project.runpytest("--scaling-no-train", f"--scaling-report={report_dir}")
    result.assert_outcomes(passed=1)
    report = json.loads((report_dir / "report.json").read_text())
    assert report["trainer_commit"] == "abc123" and report["claims"][0]["note"] == "seen by the hook"
