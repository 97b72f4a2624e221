"""A full cache disk under pytest: the first claim that needs missing runs fails with what happened,
the others skip with it; no traceback, no OSError per claim."""

from tests.full_disk import fill_after, temp_files


def test_a_full_disk_fails_one_claim_and_skips_the_rest_with_its_reason(project, tmp_path, monkeypatch):
    fill_after(monkeypatch, room=3)  # fileio is imported here, so the in-process session sees the full disk
    # fp32 pinned: on bf16 hardware auto's probe caches its measurement first and takes one record's room
    result = project.runpytest("-rfs", "--scaling-precision=fp32")
    result.assert_outcomes(failed=1, skipped=2)
    cache = tmp_path / "cache"
    kept = list((cache / "runs").glob("*/*.json"))
    assert len(kept) == 3 and not temp_files(cache)
    out = result.stdout.str()
    assert "Traceback" not in out and "OSError" not in out and "Errno" not in out
    message = f"the run cache at {str(cache)!r} is full (no space left on device)"
    failures = out[out.index("= FAILURES ="):out.index("= pytest-scaling =")]
    assert failures.count(message) == 1, failures  # the message alone: no chained exceptions
    assert "it keeps its 3 runs (3 trained this session)" in failures
    result.stdout.fnmatch_lines(["FAILED test_claims.py::test_claim - Failed: the run cache at *",
                                 f"SKIPPED [[]2[]] *: training stopped: {message}*"])  # the other two, one reason
