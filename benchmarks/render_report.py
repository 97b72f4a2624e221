"""Build a report from synthetic runs and check its index.html in headless Chromium.

Why: the HTML report is only useful if a real browser shows the claims, the verdict
colours and the plots (relative image paths, inline CSS), in an ordinary laptop window
without scrolling sideways. Two checks, over file:// (nothing is served):

* a screenshot, which fails when it is missing, blank, or lacks the verdict badge
  colours or the plot colours;
* an overflow check at 1280×900: a copy of the page with a measuring script appended
  is loaded with ``--dump-dom``; it fails when the page scrolls sideways or any element
  reaches past the viewport's right edge.

The report is a wide, realistic one (long parametrised names, reasons and budget lines).
Exits non-zero when either check fails.

    python benchmarks/render_report.py [OUT_DIR]
"""

from __future__ import annotations

import html
import json
import re
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


#: Appended to a copy of the page: once everything (images too) has loaded, measure how far the
#: page reaches sideways and write it as JSON into the DOM, where ``--dump-dom`` shows it.
OVERFLOW_SCRIPT = """<script>
window.addEventListener("load", function () {
  var doc = document.documentElement, widest = null, right = 0;
  document.querySelectorAll("body *").forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > right) { right = r.right; widest = el; }
  });
  var name = widest ? widest.tagName.toLowerCase() + (widest.id ? "#" + widest.id : "")
      + (typeof widest.className === "string" && widest.className ? "." + widest.className.split(" ").join(".") : "")
      : null;
  var out = {viewport: window.innerWidth, client_width: doc.clientWidth, scroll_width: doc.scrollWidth,
             widest_right: Math.round(right * 10) / 10, widest: name,
             widest_text: widest ? (widest.textContent || "").trim().slice(0, 80) : null};
  var pre = document.createElement("pre");
  pre.id = "overflow-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""
_CHECK = re.compile(r'<pre id="overflow-check">(.*?)</pre>', re.S)


def find_chromium() -> str | None:
    for name in ("/usr/bin/chromium", *CHROMIUM_NAMES):
        path = shutil.which(name)
        if path:
            return path
    return None


def build_synthetic_report(out_dir: Path, *, wide: bool = False) -> Path:
    """index.html of a report on synthetic runs; ``wide``: with the long, realistic records too."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.unit._report_data import synthetic_meta, synthetic_records, synthetic_runs, wide_records
    from pytest_scaling.report import write_report

    records = wide_records() if wide else synthetic_records()
    paths = write_report(out_dir, records, synthetic_meta(), synthetic_runs())
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


def measure_overflow(index_html: Path, *, chromium: str, size=(1280, 900), timeout: float = 90) -> dict:
    """How far the page reaches sideways in a ``size`` window: ``scroll_width`` (the document's),
    ``client_width`` (the viewport less any scrollbar), the right edge of the element reaching
    furthest (``widest_right``, ``widest``, ``widest_text``); ``ok`` when neither passes the viewport.

    The measuring copy sits next to the page (so relative image paths resolve) and is removed after.
    """
    probe = index_html.with_name(f"{index_html.stem}.overflow-check.html")
    page = index_html.read_text(encoding="utf-8")
    cut = page.rfind("</body>")
    probe.write_text(page[:cut] + OVERFLOW_SCRIPT + page[cut:] if cut >= 0 else page + OVERFLOW_SCRIPT,
                     encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory() as profile:
            cmd = [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                "--dump-dom", f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=5000",
                probe.resolve().as_uri(),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    finally:
        probe.unlink(missing_ok=True)
    found = _CHECK.search(proc.stdout)
    if found is None:
        raise RuntimeError(f"chromium dumped no overflow measurement (rc {proc.returncode}):\n{proc.stderr[-2000:]}")
    result = json.loads(html.unescape(found.group(1)))
    width = min(result["viewport"], result["client_width"])
    result["ok"] = result["scroll_width"] <= width and result["widest_right"] <= width + 0.5
    return result


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
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", nargs="?", help="where the report goes (default: a new temporary directory)")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("chromium not found; install it (e.g. apt-get install chromium)", file=sys.stderr)
        return 2
    out = Path(args.out_dir) if args.out_dir else Path(tempfile.mkdtemp(prefix="scaling-report-"))
    t0 = time.perf_counter()
    index = build_synthetic_report(out, wide=True)
    t1 = time.perf_counter()
    png = screenshot(index, out / "screenshot.png", chromium=chromium)
    t2 = time.perf_counter()
    shot = check_screenshot(png)
    t3 = time.perf_counter()
    overflow = measure_overflow(index, chromium=chromium)
    t4 = time.perf_counter()
    print(f"report: {index} (built in {t1 - t0:.1f}s)")
    for title, result in ((f"screenshot: {png} ({t2 - t1:.1f}s)", shot),
                          (f"overflow at 1280x900 ({t4 - t3:.1f}s)", overflow)):
        print(title)
        for key, value in result.items():
            print(f"  {key}: {value}")
    return 0 if shot["ok"] and overflow["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
