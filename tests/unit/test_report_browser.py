"""index.html really renders in a headless browser: claims, verdict colours and plots visible, and
nothing wider than a 1280-px window."""

from __future__ import annotations

import pytest

import conftest as repo_conftest

render_report = repo_conftest.render_report()
CHROMIUM = repo_conftest.chromium_path()
pytestmark = pytest.mark.browser  # skipped, with the reason, where no Chromium is on PATH (conftest.py)


def test_index_html_renders_with_verdict_colours_and_plots(tmp_path):
    pytest.importorskip("PIL", reason="Pillow (a matplotlib dependency) reads the screenshot")
    index = render_report.build_synthetic_report(tmp_path / "report")
    png = render_report.screenshot(index, tmp_path / "shot.png", chromium=CHROMIUM)
    result = render_report.check_screenshot(png)
    assert result["size"] == (1200, 1600)
    assert result["non_white_fraction"] > 0.05, result
    for marker, pixels in result["marker_pixels"].items():
        assert pixels >= 20, (marker, result)


def test_check_screenshot_rejects_a_page_without_images(tmp_path):
    """The check itself can fail: a page whose images are missing lacks the plot colours."""
    pytest.importorskip("PIL")
    index = render_report.build_synthetic_report(tmp_path / "report")
    for png in index.parent.glob("*.png"):
        png.unlink()
    shot = render_report.screenshot(index, tmp_path / "shot.png", chromium=CHROMIUM)
    result = render_report.check_screenshot(shot)
    assert result["marker_pixels"]["confirmed badge"] >= 20  # the table still renders
    assert result["marker_pixels"]["viridis yellow (plot colour bar)"] < 20
    assert not result["ok"]


def test_index_html_fits_a_1280px_window(tmp_path):
    """The wide, realistic report (long parametrised names, reasons and budget lines, Holm verdicts)
    neither scrolls sideways nor has an element past the viewport's right edge."""
    index = render_report.build_synthetic_report(tmp_path / "report", wide=True)
    result = render_report.measure_overflow(index, chromium=CHROMIUM)
    assert result["viewport"] == 1280, result
    assert result["scroll_width"] <= result["client_width"], result
    assert result["widest_right"] <= result["client_width"], result
    assert result["ok"], result
    assert not list(index.parent.glob("*overflow-check*"))  # the measuring copy is removed


def test_overflow_check_reports_a_too_wide_page(tmp_path):
    """The check itself can fail: an element 2000 px wide is found, and named."""
    page = tmp_path / "index.html"
    page.write_text('<!DOCTYPE html><html><body><p>fits</p><div id="wide" class="a b" style="width:2000px">x</div>'
                    "</body></html>")
    result = render_report.measure_overflow(page, chromium=CHROMIUM)
    assert not result["ok"]
    assert result["scroll_width"] >= 2000 and result["widest_right"] >= 2000
    assert result["widest"] == "div#wide.a.b"
