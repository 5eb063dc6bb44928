"""Fixtures of the browser tests: one dashboard server per session, Playwright and chromium per module.

* ``e2e_server``: ``streamlit run app.py`` on a free loopback port, its
  reference store and profile in a temporary folder (see
  :class:`tests.e2e.harness.StreamlitServer`); stopped at the end.
* ``chromium`` / ``camera_chromium``: Debian's chromium through Playwright,
  the second with a fake camera; the tests are skipped when chromium is not
  installed (``apt-get install chromium``; ``scripts/test.sh`` does it),
  and fail instead under CI (``CI`` set), which must run them.
* ``app_page``: a fresh browser context (a fresh Streamlit session) on the
  app; after a failed test its screenshot and the server log's tail are
  attached to the report.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from . import harness


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"e2e_report_{report.when}", report)
    return report


def _no_chromium() -> None:
    """Skip on a developer machine without chromium; fail in CI, which installs it."""
    message = f"chromium not installed at {harness.DEFAULT_CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory) -> Iterator[harness.StreamlitServer]:
    """The dashboard, started once for all browser tests."""
    if harness.chromium_path() is None:
        _no_chromium()
    server = harness.StreamlitServer(tmp_path_factory.mktemp("e2e-server"))
    try:
        server.start()
    except harness.ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[object]:
    """Playwright's sync driver (skips when chromium is missing).

    Module-scoped: the driver is stopped after each browser-test module, so
    it is not left running under the later (asyncio-using) tests.
    """
    if harness.chromium_path() is None:
        _no_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def chromium(playwright_driver) -> Iterator[object]:
    """Headless chromium."""
    browser = harness.launch_chromium(playwright_driver)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def camera_chromium(playwright_driver) -> Iterator[object]:
    """Headless chromium whose camera is the fake test-pattern device."""
    browser = harness.launch_chromium(playwright_driver, fake_camera=True)
    yield browser
    browser.close()


def _page(request, tmp_path, browser, server: harness.StreamlitServer, camera: bool = False) -> Iterator[object]:
    page = harness.new_page(browser, server, camera=camera)
    yield page
    report = getattr(request.node, "e2e_report_call", None)
    if report is not None and report.failed:
        shot = tmp_path / "failure.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            report.sections.append(("e2e", f"screenshot: {shot}\nserver log tail:\n{server.log_tail()}"))
        except Exception as exc:
            report.sections.append(("e2e", f"no screenshot ({exc})\nserver log tail:\n{server.log_tail()}"))
    page.context.close()


@pytest.fixture
def app_page(request, tmp_path, chromium, e2e_server) -> Iterator[object]:
    """The app's default page (Register) in a fresh session."""
    yield from _page(request, tmp_path, chromium, e2e_server)


@pytest.fixture
def camera_page(request, tmp_path, camera_chromium, e2e_server) -> Iterator[object]:
    """The app's default page in a fresh session that may use the fake camera."""
    yield from _page(request, tmp_path, camera_chromium, e2e_server, camera=True)
