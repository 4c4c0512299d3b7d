"""Headless Chromium (Debian's, at /usr/bin/chromium) driven by Playwright, against the whole
local stack (localazure.spa_stack) and the built page.

Screenshots go to ``SPA_SCREENSHOT_DIR`` (``make spa-screenshots`` sets it to docs/spa), else
to ``.localazure/spa-screenshots``. Every request and response the browser makes is recorded in
``network`` for the secret scan.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from localazure.entra.interactive import DirectoryUser
from localazure.processes import REPO_ROOT
from localazure.spa_stack import SpaStack, spki_pin, start_spa_stack

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# What the machine's probe found Chromium needs here (no sandbox as root, no background
# networking on a closed network), plus trust for the one test server key and nothing else.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(
    os.environ.get("SPA_SCREENSHOT_DIR", REPO_ROOT / ".localazure" / "spa-screenshots")
)


@dataclass
class NetworkLog:
    """What crossed the wire: method, URL, request headers and body, response headers and body."""

    entries: list[dict[str, Any]] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        def on_request(request: Any) -> None:
            self.entries.append(
                {
                    "kind": "request",
                    "method": request.method,
                    "url": request.url,
                    "headers": dict(request.headers),
                    "body": request.post_data or "",
                }
            )

        def on_response(response: Any) -> None:
            body = ""
            textual = ("javascript", "json", "html")
            if any(kind in response.headers.get("content-type", "") for kind in textual):
                try:
                    body = response.text()
                except Exception:  # a redirect or an aborted load has no body
                    body = ""
            self.entries.append(
                {
                    "kind": "response",
                    "url": response.url,
                    "status": response.status,
                    "headers": dict(response.headers),
                    "body": body,
                }
            )

        context.on("request", on_request)
        context.on("response", on_response)

    def requests(self, method: str, url_part: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.entries
            if e["kind"] == "request" and e["method"] == method and url_part in e["url"]
        ]


@pytest.fixture(scope="module")
def stack() -> Iterator[SpaStack]:
    with ExitStack() as exits:
        work = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="spa-stack-")))
        yield start_spa_stack(exits, work)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make deps` (it installs Debian's chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, stack: SpaStack) -> Iterator[Browser]:
    pin = spki_pin(stack.certs.cert_pem)
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[*CHROMIUM_FLAGS, f"--ignore-certificate-errors-spki-list={pin}"],
    )
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def network() -> NetworkLog:
    return NetworkLog()


@pytest.fixture
def new_context(browser: Browser, network: NetworkLog) -> Iterator[Callable[[], BrowserContext]]:
    """A fresh browser profile per user (its own storage), recorded in the network log."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
        # Generous waits for a loaded CI machine; nothing here asserts on time.
        context.set_default_timeout(60_000)
        network.attach(context)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Page, origin: str, user: DirectoryUser) -> None:
    """The real redirect flow: the page's button, the stand-in's sign-in form, back again."""
    page.goto(f"{origin}/")
    page.click("#sign-in")
    page.wait_for_selector("#i0116")
    page.fill("#i0116", user.username)
    page.fill("#i0118", user.password)
    page.click("#idSIButton9")
    page.wait_for_url(f"{origin}/**")
    page.wait_for_selector("#signed-in:not([hidden])")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


__all__ = ["NetworkLog", "screenshot", "sign_in"]
