"""Build a report from synthetic runs and screenshot its index.html in headless Chromium.

Why: the HTML report is only useful if a real browser shows the table, the verdict
colours and the plots (relative image paths, inline CSS). This checks exactly that,
over file:// (nothing is served), and exits non-zero when the screenshot is missing,
blank, or lacks the verdict badge colours or the plot colours.

    python benchmarks/render_report.py [OUT_DIR]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Colours that only appear when the CSS and the images were really rendered.
MARKERS = {
    "confirmed badge": (0xD9, 0xF5, 0xE0),
    "refuted badge": (0xFB, 0xDA, 0xDA),
    "inconclusive badge": (0xFF, 0xF3, 0xC4),
    "viridis yellow (plot colour bar)": (0xFD, 0xE7, 0x25),
}


def find_chromium() -> str | None:
    for name in ("/usr/bin/chromium", *CHROMIUM_NAMES):
        path = shutil.which(name)
        if path:
            return path
    return None


def build_synthetic_report(out_dir: Path) -> Path:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.unit._report_data import synthetic_meta, synthetic_records, synthetic_runs
    from pytest_scaling.report import write_report

    paths = write_report(out_dir, synthetic_records(), synthetic_meta(), synthetic_runs())
    return next(p for p in paths if p.name == "index.html")


def screenshot(index_html: Path, png: Path, *, chromium: str, size=(1200, 1600), timeout: float = 90) -> Path:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
            f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", "--hide-scrollbars",
            index_html.resolve().as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (rc {proc.returncode}):\n{proc.stderr[-2000:]}")
    return png


def check_screenshot(png: Path) -> dict:
    """Not blank, and each marker colour present (within a small tolerance)."""
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    flat = img.reshape(-1, 3)
    non_white = float(np.mean(np.any(flat < 245, axis=1)))
    found = {}
    for name, rgb in MARKERS.items():
        found[name] = int(np.sum(np.all(np.abs(flat - np.array(rgb)) <= 6, axis=1)))
    return {
        "size": img.shape[1::-1],
        "non_white_fraction": non_white,
        "distinct_colours": int(len(np.unique(flat[:: max(1, len(flat) // 200_000)], axis=0))),
        "marker_pixels": found,
        "ok": non_white > 0.05 and all(n >= 20 for n in found.values()),
    }


def main(argv: list[str]) -> int:
    chromium = find_chromium()
    if chromium is None:
        print("chromium not found; install it (e.g. apt-get install chromium)", file=sys.stderr)
        return 2
    out = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="scaling-report-"))
    t0 = time.perf_counter()
    index = build_synthetic_report(out)
    t1 = time.perf_counter()
    png = screenshot(index, out / "screenshot.png", chromium=chromium)
    t2 = time.perf_counter()
    result = check_screenshot(png)
    print(f"report: {index} (built in {t1 - t0:.1f}s)")
    print(f"screenshot: {png} ({t2 - t1:.1f}s)")
    for key, value in result.items():
        print(f"  {key}: {value}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
