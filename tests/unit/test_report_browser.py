"""index.html really renders in a headless browser: table, verdict colours and plots visible."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "render_report.py"
_spec = importlib.util.spec_from_file_location("render_report", _SCRIPT)
render_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render_report)

CHROMIUM = render_report.find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium/chrome on PATH (apt-get install chromium) to screenshot index.html"
)


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
