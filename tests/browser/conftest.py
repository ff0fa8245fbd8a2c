"""Browser tests: Playwright for Python driving Debian's Chromium headless against a live
server (pytest-django's `live_server`, a real HTTP server over the test database).

Screenshots of each journey are saved under test-artifacts/screenshots/ (README, "Tests").
Every request the page makes is checked to stay on the server: the application must work on a
closed network, so a request to any other host fails the test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("RESOLUTE_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery 9"  # tests/conftest.py's users



# Package scope, not session: while Playwright's sync API is open its event loop runs in this
# thread, and later tests that call asyncio.run() (the TAK listener's) would fail.
@pytest.fixture(scope="package")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the tests' own database calls
    # (fixtures, assertions) are still plain synchronous code. Only while these tests run: a
    # subprocess of a later test (`check --deploy`) must not inherit it.
    monkey = pytest.MonkeyPatch()
    monkey.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"])
        yield b
        b.close()
    monkey.undo()


class Session:
    """One person's browser tab on the live server."""

    def __init__(self, browser, base: str, request):
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
        self.page = self.context.new_page()
        self.foreign: list[str] = []
        self.errors: list[str] = []
        host = urlsplit(base).netloc
        self.page.route("**/*", self._only_local(host))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.name = request.node.name

    def _only_local(self, host):
        def handle(route):
            url = route.request.url
            if urlsplit(url).netloc != host and not url.startswith(("data:", "blob:")):
                self.foreign.append(url)
                return route.abort()
            return route.continue_()

        return handle

    def go(self, path: str):
        response = self.page.goto(self.base + path)
        return response

    def login(self, username: str, password: str = PASSWORD):
        self.go("/accounts/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()
        return self

    def shot(self, step: str):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{self.name}-{step}.png"), full_page=True)

    def close(self):
        assert not self.foreign, f"requests left the server: {self.foreign[:5]}"
        assert not self.errors, f"JavaScript errors: {self.errors[:5]}"
        self.context.close()


@pytest.fixture
def tab(browser, live_server, request):
    """Open tabs with `tab()`; each is checked for foreign requests and script errors at the end."""
    opened = []

    def open_tab():
        s = Session(browser, live_server.url, request)
        opened.append(s)
        return s

    yield open_tab
    for s in opened:
        s.close()
