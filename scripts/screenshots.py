"""Save a screenshot of each dashboard page into ``docs/screenshots/`` (for the README).

Uses the browser tests' harness (``tests/e2e/harness.py``): starts
``streamlit run app.py`` on a free loopback port with an empty reference
store in a temporary folder, drives Debian's chromium through Playwright the
way a person would, and saves one full-length PNG per page:

* ``demo.png``: the Demo page, one screen (1400x1000): reference, new photo, the answer, the picture;
* ``demo_phone.png``: the same at a phone's 390x844 after a tap (scrolled to the answer);
* ``register.png``: the default example with its keypoints, stored for ``demo``;
* ``verify.png``: another building against that reference under the fused rule (no points line up);
* ``tag.png``: the coffee example tagged "cup" by the offline tagger (the asked tag marked);
* ``tuning.png``: the Tuning lab after a run on the bundled set (rates with intervals, live charts).

The PNGs are reduced to a palette (Pillow) to stay well under 400 KB each.
Emoji in the sidebar need a colour-emoji font (``apt-get install
fonts-noto-color-emoji``); without it they show as boxes.

Usage::

    python -m scripts.screenshots [--out docs/screenshots] [--width 1400] [--max-height 2200]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect, sync_playwright

from tests.e2e import harness as h

REPO = Path(__file__).resolve().parents[1]

MAX_BYTES = 400_000
USER = "demo"


def content_height(page) -> int:
    """Height the page's content needs (Streamlit scrolls inner elements, not the document)."""
    return int(
        page.evaluate("""() => {
        const bottom = (scroller, content) => {
            const box = document.querySelector(`[data-testid="${scroller}"]`);
            const inner = document.querySelector(`[data-testid="${content}"]`);
            if (!box || !inner) return 0;
            return inner.getBoundingClientRect().bottom - box.getBoundingClientRect().top + box.scrollTop;
        };
        return Math.max(bottom("stMain", "stMainBlockContainer"),
                        bottom("stSidebarContent", "stSidebarUserContent"));
    }""")
    )


def shoot(page, path: Path, width: int, max_height: int) -> int:
    """Grow the viewport to the content (up to ``max_height``), screenshot, shrink the PNG; its size."""
    h.wait_until_idle(page)
    page.mouse.move(0, 0)  # no hover tooltips
    page.evaluate("() => document.activeElement && document.activeElement.blur()")  # no focus ring
    height = 900
    for _ in range(4):  # the layout can grow after a resize (tables and charts redraw): until it settles
        wanted = min(max(content_height(page) + 16, 900), max_height)
        if wanted == height:
            break
        height = wanted
        page.set_viewport_size({"width": width, "height": height})
        h.wait_until_idle(page)
        page.wait_for_timeout(500)
    png = page.screenshot(full_page=True, animations="disabled")
    page.set_viewport_size({"width": width, "height": 900})
    return save_small(png, path)


def save_small(png: bytes, path: Path) -> int:
    """Save ``png`` as a palette PNG (fewer colours or a smaller scale until under MAX_BYTES)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    for colors, scale in ((256, 1.0), (128, 1.0), (128, 0.85), (96, 0.7)):
        candidate = (
            image
            if scale == 1.0
            else image.resize((int(image.width * scale), int(image.height * scale)), Image.Resampling.LANCZOS)
        )
        out = io.BytesIO()
        candidate.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
            out, "PNG", optimize=True
        )
        if out.tell() <= MAX_BYTES:
            break
    path.write_bytes(out.getvalue())
    return out.tell()


def demo(page) -> None:
    expect(page.locator("h1")).to_contain_text("Same thing, new photo?")
    expect(h.verdict_headline(page)).to_contain_text("Same building")
    expect(h.images_with_caption(page, "Reference (left) and new photo (right)").locator("img")).to_be_visible()


def register(page) -> None:
    h.open_page(page, "Register", "Register a reference photo")
    h.fill_text(page, "User id", USER)
    expect(h.verdict_headline(page)).to_contain_text("Good reference")
    page.get_by_role("button", name=f"Store as reference for '{USER}'").click()
    expect(h.verdict_box(page, f"Stored for '{USER}'")).to_be_visible()
    expect(h.images_with_caption(page, "Distinctive points")).to_be_visible()


def verify(page) -> None:
    h.open_page(page, "Verify", "Verify a new photo")
    h.choose_option(page, "User", USER)
    expect(h.verdict_headline(page)).to_contain_text("Same building")
    h.pick_example(page, "Another building")
    expect(h.verdict_headline(page)).to_contain_text("Different")
    expect(h.images_with_caption(page, "Reference (left) and new photo (right)")).to_be_visible()


def tag(page) -> None:
    h.open_page(page, "Tag", "Tag check")
    expect(h.verdict_headline(page)).to_contain_text("Yes: it shows a cup")
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()


def tuning(page) -> None:
    h.open_page(page, "Tuning lab", "Tuning lab")
    h.set_toggle(page, "Also score the original note's rule (full resolution, slow)", False)
    h.wait_until_idle(page)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(4, timeout=h.TUNE_TIMEOUT_MS)
    h.wait_until_idle(page)
    # Vega draws after the data arrive: wait until every chart has its canvas.
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
            .every(c => c.querySelector('canvas, svg'))"""
    )


PAGES = (
    ("demo.png", demo),
    ("register.png", register),
    ("verify.png", verify),
    ("tag.png", tag),
    ("tuning.png", tuning),
)


def phone_demo(browser, server, path: Path) -> int:
    """The Demo page on a 390x844 phone screen after a tap on "Simulated night" (the screen the phone shows)."""
    page = h.new_page(browser, server, width=390, height=844)
    try:
        demo(page)
        h.pick_example(page, "Simulated night")  # a tap: the phone scrolls to the answer
        expect(h.verdict_headline(page)).to_contain_text("Same building")
        h.wait_until_idle(page)
        page.wait_for_timeout(800)
        page.wait_for_timeout(500)
        h.assert_no_exception(page)
        return save_small(page.screenshot(animations="disabled"), path)
    finally:
        page.context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--max-height", type=int, default=2200)
    args = parser.parse_args(argv)
    if h.chromium_path() is None:
        print(f"chromium not found at {h.DEFAULT_CHROMIUM}: apt-get install chromium", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="screenshots-") as tmp,
        h.StreamlitServer(Path(tmp), extra_args=("--client.toolbarMode", "viewer")) as server,
        sync_playwright() as driver,
    ):
        browser = h.launch_chromium(driver)
        try:
            page = h.new_page(browser, server, width=args.width)
            for name, act in PAGES:
                start = time.monotonic()
                act(page)
                h.assert_no_exception(page)
                size = shoot(page, args.out / name, args.width, args.max_height)
                print(f"{args.out / name}: {size / 1000:.0f} KB ({time.monotonic() - start:.1f} s)")
            size = phone_demo(browser, server, args.out / "demo_phone.png")
            print(f"{args.out / 'demo_phone.png'}: {size / 1000:.0f} KB")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
