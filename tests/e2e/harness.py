"""Start/stop the dashboard and Debian's chromium for the browser tests and the screenshot script.

Used by ``tests/e2e/conftest.py`` (fixtures) and ``scripts/screenshots.py``.
Nothing here depends on pytest.

* :class:`StreamlitServer`: ``streamlit run app.py`` on a free loopback port,
  with the reference store and the thresholds profile in a given folder,
  waited for on ``/_stcore/health``.
* :func:`launch_chromium`: Playwright driving ``/usr/bin/chromium`` (the
  browser Playwright downloads itself cannot be fetched here), optionally with
  a fake camera.
* Small page helpers that act the way a person does (click the nav link,
  pick an option, move a slider with the keyboard) and let Playwright's
  auto-waiting ``expect`` absorb Streamlit's reruns.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
APP = REPO_DIR / "app.py"

#: Where Debian puts chromium; ``CHROMIUM_PATH`` overrides it.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
FAKE_CAMERA_ARGS = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")

#: How long the vision work of one rerun may take on a slow 2-core machine
#: (Playwright's actions and ``expect`` wait this long; its default is 5 s).
RERUN_TIMEOUT_MS = 45_000
#: The tuning run over the bundled set (56 pairs) is the slowest step.
TUNE_TIMEOUT_MS = 150_000

EXCEPTION = '[data-testid="stException"]'
#: Below this width Streamlit collapses the sidebar and stacks columns.
PHONE_MAX_WIDTH = 640


# --- the server -------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerError(RuntimeError):
    """The dashboard did not come up; the message carries the end of its log."""


@dataclass
class StreamlitServer:
    """``streamlit run app.py`` as a subprocess, its state under ``workdir``.

    ``workdir/references`` is the local reference store (``VISION_STORE_DIR``),
    ``workdir/profile.json`` the thresholds profile (``VISION_PROFILE``) and
    ``workdir/streamlit.log`` the server's output.  ``extra_args`` go to
    ``streamlit run`` (e.g. ``--client.toolbarMode viewer`` for screenshots).
    """

    workdir: Path
    port: int = 0
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_dir(self) -> Path:
        return self.workdir / "references"

    @property
    def log_path(self) -> Path:
        return self.workdir / "streamlit.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("CLARIFAI_PAT", None)  # the Tag page stays on the offline tagger
        env.update(
            {
                "VISION_STORE": "local",
                "VISION_STORE_DIR": str(self.store_dir),
                "VISION_PROFILE": str(self.workdir / "profile.json"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def start(self, timeout_s: float = 90.0, attempts: int = 3) -> StreamlitServer:
        """Start the server and wait until ``/_stcore/health`` answers ``ok``.

        With no fixed ``port``, a port taken between choosing and binding it
        (another process got there first) is retried with a new one.
        """
        fixed = bool(self.port)
        for attempt in range(1, attempts + 1):
            if not fixed:
                self.port = free_port()
            try:
                return self._start_once(timeout_s)
            except ServerError:
                if fixed or attempt == attempts or "already in use" not in self.log_tail():
                    raise
        raise AssertionError("unreachable")

    def _start_once(self, timeout_s: float) -> StreamlitServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
            "--server.runOnSave",
            "false",
            *self.extra_args,
        ]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            cmd, cwd=REPO_DIR, env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"streamlit exited with status {self.process.returncode} before it was healthy:\n{self.log_tail()}"
                )
            if self._healthy():
                return self
            time.sleep(0.25)
        self.stop()
        raise ServerError(
            f"streamlit did not answer {self.url}/_stcore/health within {timeout_s:.0f} s:\n{self.log_tail()}"
        )

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                return response.status == 200 and response.read().strip() == b"ok"
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self, grace_s: float = 10.0) -> None:
        """Terminate the server, then kill it if it does not exit within ``grace_s``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(grace_s)

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- the browser ----------------------------------------------------------------------


def chromium_path() -> str | None:
    """The chromium executable to drive, or None when there is none."""
    candidate = os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM
    if Path(candidate).is_file() and os.access(candidate, os.X_OK):
        return candidate
    return shutil.which("chromium")


def launch_chromium(playwright, fake_camera: bool = False):
    """Launch chromium headless through Playwright (a fresh temporary profile each launch).

    Also makes ``expect`` wait up to :data:`RERUN_TIMEOUT_MS` by default.
    """
    _expect().set_options(timeout=RERUN_TIMEOUT_MS)
    path = chromium_path()
    if path is None:
        raise FileNotFoundError(f"no chromium at {DEFAULT_CHROMIUM} (apt-get install chromium)")
    args = list(CHROMIUM_ARGS) + (list(FAKE_CAMERA_ARGS) if fake_camera else [])
    return playwright.chromium.launch(executable_path=path, headless=True, args=args)


def new_page(browser, server: StreamlitServer, width: int = 1400, height: int = 900, camera: bool = False):
    """A page in a fresh context (a fresh Streamlit session) showing the app's default page."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=1, permissions=["camera"] if camera else []
    )
    page = context.new_page()
    page.set_default_timeout(RERUN_TIMEOUT_MS)
    page.goto(server.url, wait_until="domcontentloaded")
    wait_for_app(page, nav=width >= PHONE_MAX_WIDTH)
    return page


# --- acting on the page ------------------------------------------------------------------


def _expect():
    from playwright.sync_api import expect

    return expect


def wait_for_app(page, timeout_ms: int = RERUN_TIMEOUT_MS, nav: bool = True) -> None:
    """Until the app has drawn its page title and stopped running (and its navigation, unless ``nav`` is off:
    on a phone the sidebar starts collapsed)."""
    expect = _expect()
    if nav:
        expect(page.locator('[data-testid="stSidebarNav"]')).to_be_visible(timeout=timeout_ms)
    expect(page.locator("h1").first).to_be_visible(timeout=timeout_ms)
    wait_until_idle(page, timeout_ms)


def wait_until_idle(page, timeout_ms: int = RERUN_TIMEOUT_MS) -> None:
    """Until Streamlit's "running" indicator is gone (a no-op when it already is)."""
    _expect()(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=timeout_ms)


def open_page(page, title: str, heading: str, timeout_ms: int = RERUN_TIMEOUT_MS) -> None:
    """Click ``title`` in the sidebar navigation and wait for the page's ``heading``."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    _expect()(page.locator("h1").filter(has_text=heading)).to_be_visible(timeout=timeout_ms)
    wait_until_idle(page, timeout_ms)


def widget(page, testid: str, label: str):
    """The Streamlit widget of kind ``testid`` (e.g. ``stSelectbox``) whose label is ``label``."""
    label_re = re.compile(rf"^\s*{re.escape(label)}\s*$")
    return page.get_by_test_id(testid).filter(has=page.get_by_test_id("stWidgetLabel").filter(has_text=label_re)).first


def choose_radio(page, label: str, option: str) -> None:
    """Click ``option`` of the radio group labelled ``label``."""
    group = widget(page, "stRadio", label)
    group.locator("label").filter(has_text=re.compile(rf"^\s*{re.escape(option)}\s*$")).first.click()


def choose_option(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (typing filters the list)."""
    box = widget(page, "stSelectbox", label)
    box.click()
    field_ = box.locator("input")
    field_.fill(option)
    page.get_by_role("option", name=option, exact=True).first.click()
    _expect()(selectbox_field(page, label)).to_have_value(option)


def selectbox_field(page, label: str):
    """The combobox input of the selectbox labelled ``label`` (its value is the chosen option)."""
    return widget(page, "stSelectbox", label).get_by_role("combobox")


def fill_text(page, label: str, text: str) -> None:
    """Type ``text`` into the text input labelled ``label`` and commit it (Enter)."""
    field_ = page.get_by_label(label, exact=True)
    field_.fill(text)
    field_.press("Enter")


def set_toggle(page, label: str, on: bool) -> None:
    """Switch the toggle labelled ``label`` on or off (no-op when it already is)."""
    switch = page.get_by_role("switch", name=label, exact=True)
    if switch.is_checked() != on:
        page.get_by_text(label, exact=True).click()  # the label's text: clicking it flips the switch
    expect = _expect()
    (expect(switch).to_be_checked if on else expect(switch).not_to_be_checked)()


def slider_value(page, label: str) -> str:
    """The value the slider labelled ``label`` shows."""
    return slider_thumb(page, label).input_value()


def slider_thumb(page, label: str):
    """The thumb (an ``input type=range``) of the slider labelled ``label``."""
    return widget(page, "stSlider", label).get_by_role("slider")


def press_slider(page, label: str, *keys: str) -> None:
    """Focus the thumb of the slider labelled ``label`` and press ``keys`` (End, ArrowRight...)."""
    thumb = slider_thumb(page, label)
    thumb.focus()
    for key in keys:
        thumb.press(key)


def verdict_box(page, text: str):
    """The verdict card (or alert box) whose text contains ``text``."""
    return page.locator('.vcard, [data-testid="stAlert"]').filter(has_text=text)


def verdict_headline(page, small: bool = False):
    """The headline of the first large (or, with ``small``, any) verdict card."""
    cards = page.locator(".vcard" if small else ".vcard:not(.small)")
    return cards.first.locator(".vhead")


def figure_value(page, label: str):
    """The value of the figure chip labelled ``label`` (e.g. "Points that line up")."""
    chip = page.locator(".fig").filter(has=page.locator(".fl", has_text=re.compile(rf"^{re.escape(label)}$")))
    return chip.first.locator(".fv")


def pick_example(page, title: str, nth: int = 0) -> None:
    """Click the thumbnail button titled ``title`` (``nth`` when several pickers show one)."""
    page.get_by_role("button", name=title, exact=True).nth(nth).click()


def assert_no_exception(page) -> None:
    """No Streamlit exception box on the page."""
    exceptions = page.locator(EXCEPTION)
    if exceptions.count():
        raise AssertionError("Streamlit exception on the page:\n" + "\n---\n".join(exceptions.all_inner_texts()))


def images_with_caption(page, caption: str):
    """``st.image`` elements whose caption contains ``caption``."""
    return page.get_by_test_id("stImage").filter(has_text=caption)
