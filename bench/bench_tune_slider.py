"""Slider-to-figures latency of the Tuning lab in a real browser, on a labelled folder.

Starts the dashboard (``tests/e2e/harness.py``: ``streamlit run app.py`` on
loopback, Debian's chromium through Playwright), runs the lab once on the
folder (features and matches; the original rule off), then presses the right
arrow on the "Minimum inliers" slider ``--moves`` times.  Each move is timed
from the key press until the (inliers, similarity) scatter has been redrawn
(its canvas differs; the robust rule's dashed line moves with every step) and
Streamlit is idle again.  Prints every move and the median.

Usage: ``python -m bench.bench_tune_slider [--data ../shared/data] [--moves 20] [--width 1400]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.e2e import harness as h

ROOT = Path(__file__).resolve().parents[1]

SLIDER = "Minimum inliers"
RUN_TIMEOUT_MS = 900_000
# A cheap fingerprint of the scatter's pixels (first chart on the page), taken in the browser.
SIGNATURE_JS = """() => {
    const chart = document.querySelector('[data-testid="stVegaLiteChart"]');
    const canvas = chart && chart.querySelector('canvas');
    if (canvas) { const d = canvas.toDataURL(); return d.length + ':' + d.slice(-4000); }
    const svg = chart && chart.querySelector('svg');
    return svg ? svg.innerHTML : '';
}"""
CHANGED_JS = f"before => ({SIGNATURE_JS})() !== before"
IDLE_JS = """() => !document.querySelector('[data-testid="stStatusWidget"]')"""


def run_lab(page, folder: str) -> float:
    """Open the lab on ``folder``, press Run, wait for the charts; seconds the run took."""
    h.open_page(page, "Tuning lab", "Tuning lab")
    h.choose_radio(page, "Labelled set", "Folder on the server")
    h.wait_until_idle(page)
    h.fill_text(page, "Folder with pairs.csv", folder)
    h.wait_until_idle(page)
    start = time.monotonic()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    h.wait_until_idle(page, RUN_TIMEOUT_MS)
    return time.monotonic() - start


def move_once(page) -> tuple[float, float]:
    """Press the slider's right arrow; seconds until the scatter is redrawn, and until the whole page is done."""
    before = page.evaluate(SIGNATURE_JS)
    thumb = h.slider_thumb(page, SLIDER)
    thumb.focus()
    start = time.perf_counter()
    thumb.press("ArrowRight")
    page.wait_for_function(CHANGED_JS, arg=before, polling="raf", timeout=h.RERUN_TIMEOUT_MS)
    figures = time.perf_counter() - start
    page.wait_for_function(IDLE_JS, polling="raf", timeout=h.RERUN_TIMEOUT_MS)
    return figures, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args(argv)
    folder = str(Path(args.data).resolve())
    with (
        tempfile.TemporaryDirectory(prefix="bench-tune-") as tmp,
        h.StreamlitServer(Path(tmp)) as server,
        sync_playwright() as driver,
    ):
        browser = h.launch_chromium(driver)
        try:
            page = h.new_page(browser, server, width=args.width)
            print(f"run on {folder}: {run_lab(page, folder):.1f} s", flush=True)
            start_value = h.slider_value(page, SLIDER)
            times, whole = [], []
            for k in range(args.moves):
                figures, done = move_once(page)
                times.append(figures)
                whole.append(done)
                print(
                    f"move {k + 1}: {h.slider_value(page, SLIDER)} inliers, figures {figures * 1000:.0f} ms, "
                    f"page done {done * 1000:.0f} ms",
                    flush=True,
                )
                time.sleep(0.3)  # a person's pace: let the previous rerun's last messages settle
            h.assert_no_exception(page)
        finally:
            browser.close()
    print(
        f"slider {SLIDER} {start_value} -> +{args.moves}: figures redrawn median {statistics.median(times) * 1000:.0f} ms "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); whole page done median "
        f"{statistics.median(whole) * 1000:.0f} ms (max {max(whole) * 1000:.0f}) over {len(times)} moves"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
