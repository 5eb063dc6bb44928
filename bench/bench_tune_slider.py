"""Slider-to-figures latency of the Tuning lab in a real browser, on a labelled folder.

Starts the dashboard (``tests/e2e/harness.py``: ``streamlit run app.py`` on
loopback, Debian's chromium through Playwright), runs the lab once on the
folder (features and matches; the original rule off), then presses the right
arrow on the "Minimum inliers" slider ``--moves`` times.  Each move is timed
from the key press until the (inliers, similarity) scatter has been redrawn
(its canvas differs; the robust rule's dashed line moves with every step) and
Streamlit is idle again.  Prints every move and the median.

Usage: ``python -m bench.bench_tune_slider [--data ../shared/data] [--rule learned] [--moves 20] [--width 1400]``
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
# A cheap fingerprint of the scatter (first chart on the page), taken in the browser: a few rows of
# its pixels (the dashed min-inliers line crosses every row), or its SVG.  Encoding the whole canvas
# (toDataURL) on every frame would slow the very redraw being timed.
SIGNATURE_JS = """() => {
    const chart = document.querySelector('[data-testid="stVegaLiteChart"]');
    const canvas = chart && chart.querySelector('canvas');
    if (canvas) {
        const ctx = canvas.getContext('2d');
        let sum = 0;
        for (const f of [0.3, 0.5, 0.7]) {
            const row = ctx.getImageData(0, Math.floor(canvas.height * f), canvas.width, 1).data;
            for (let i = 0; i < row.length; i += 1) sum = (sum * 31 + row[i] * (i + 1)) % 2147483647;
        }
        return canvas.width + 'x' + canvas.height + ':' + sum;
    }
    const svg = chart && chart.querySelector('svg');
    return svg ? svg.innerHTML : '';
}"""
CHANGED_JS = f"before => ({SIGNATURE_JS})() !== before"
IDLE_JS = """() => !document.querySelector('[data-testid="stStatusWidget"]')"""


def run_lab(page, folder: str, rule: str) -> float:
    """Open the lab on ``folder`` with ``rule`` as the profile's rule, press Run, wait for the charts; seconds taken."""
    h.open_page(page, "Tuning lab", "Tuning lab")
    h.choose_option(page, "Default rule (API and CLI)", rule)
    h.wait_until_idle(page)
    h.choose_radio(page, "Labelled set", "Folder on the server")
    h.wait_until_idle(page)
    h.fill_text(page, "Folder with pairs.csv", folder)
    h.wait_until_idle(page)
    start = time.monotonic()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    h.wait_until_idle(page, RUN_TIMEOUT_MS)
    return time.monotonic() - start


class SentFrames:
    """When the browser last sent a message to the server (the slider's new value), from the websocket."""

    def __init__(self, page) -> None:
        self.last = 0.0
        page.on("websocket", lambda ws: ws.on("framesent", self._sent))

    def _sent(self, _payload) -> None:
        self.last = time.perf_counter()


def move_once(page, sent: SentFrames) -> tuple[float, float, float]:
    """Press the slider's right arrow; seconds until the browser sends the value, until the scatter is
    redrawn, and until the whole page is done."""
    before = page.evaluate(SIGNATURE_JS)
    thumb = h.slider_thumb(page, SLIDER)
    thumb.focus()
    start = time.perf_counter()
    thumb.press("ArrowRight")
    page.wait_for_function(CHANGED_JS, arg=before, polling="raf", timeout=h.RERUN_TIMEOUT_MS)
    figures = time.perf_counter() - start
    page.wait_for_function(IDLE_JS, polling="raf", timeout=h.RERUN_TIMEOUT_MS)
    done = time.perf_counter() - start
    return max(sent.last - start, 0.0), figures, done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--rule", default="learned", help="the profile's rule the lab scores (default learned)")
    args = parser.parse_args(argv)
    folder = str(Path(args.data).resolve())
    with (
        tempfile.TemporaryDirectory(prefix="bench-tune-") as tmp,
        h.StreamlitServer(Path(tmp)) as server,
        sync_playwright() as driver,
    ):
        browser = h.launch_chromium(driver)
        try:
            # The page is opened here rather than by h.new_page so that the websocket is watched from the start.
            context = browser.new_context(viewport={"width": args.width, "height": 900}, device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(h.RERUN_TIMEOUT_MS)
            sent = SentFrames(page)
            page.goto(server.url, wait_until="domcontentloaded")
            h.wait_for_app(page)
            print(f"run on {folder}: {run_lab(page, folder, args.rule):.1f} s", flush=True)
            start_value = h.slider_value(page, SLIDER)
            times, whole, sends = [], [], []
            for k in range(args.moves):
                send, figures, done = move_once(page, sent)
                times.append(figures)
                whole.append(done)
                sends.append(send)
                print(
                    f"move {k + 1}: {h.slider_value(page, SLIDER)} inliers, value sent {send * 1000:.0f} ms, "
                    f"figures {figures * 1000:.0f} ms, page done {done * 1000:.0f} ms",
                    flush=True,
                )
                time.sleep(0.3)  # a person's pace: let the previous rerun's last messages settle
            h.assert_no_exception(page)
        finally:
            browser.close()
    print(
        f"{args.rule} rule, slider {SLIDER} {start_value} -> +{args.moves}: figures redrawn median {statistics.median(times) * 1000:.0f} ms "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); whole page done median "
        f"{statistics.median(whole) * 1000:.0f} ms (max {max(whole) * 1000:.0f}) over {len(times)} moves; "
        f"of which the browser took median {statistics.median(sends) * 1000:.0f} ms to send the new value"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
