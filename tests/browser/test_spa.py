"""The SPA in headless Chromium against the whole local stack, signed in through MSAL's real
redirect flow (the stand-in's sign-in page is filled in; no token is put into the page).

Each scenario leaves a screenshot (see conftest) and ends with a scan of the browser's storage
and of everything that crossed the wire for keys and connection strings.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from localazure.azurite import ACCOUNT_KEY
from localazure.entra.interactive import TEST_USERS, DirectoryUser
from localazure.spa_stack import SpaStack
from tests.browser.conftest import NetworkLog, screenshot, sign_in

ALICE, BOB, OLIVIA = TEST_USERS
TEAM = "Zürich-東京"
FINISHED = 90_000  # ms: a request's whole run on the emulator takes a few seconds
JWT = re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+")
# What must never reach a browser: the account key, a connection string, a SAS, a function key.
SECRET_MARKERS = (
    ACCOUNT_KEY,
    "AccountKey=",
    "DefaultEndpointsProtocol",
    "SharedAccessSignature",
    "SharedKey ",
    "x-functions-key",
    "client_secret=",
    '"client_secret":',
)
FUNCTION_KEY_PARAM = re.compile(r"[?&]code=")
SAS_PARAM = re.compile(r"[?&]sig=")

NewContext = Callable[[], BrowserContext]


def signed_in(
    new_context: NewContext, origin: str, user: DirectoryUser
) -> tuple[BrowserContext, Page]:
    """A fresh browser profile, signed in as ``user`` on the page at ``origin``."""
    context = new_context()
    page = context.new_page()
    sign_in(page, origin, user)
    return context, page


def fill_request(page: Page, request: dict[str, Any], tags: dict[str, str] | None = None) -> None:
    """Type a request into the form the way a person does (field by field, tag by tag)."""
    for name, value in request.items():
        page.fill(f'[name="{name}"]', str(value))
    for name, value in (tags or {}).items():
        page.click("#add-tag")
        page.locator(".tag-row .tag-name").last.fill(name)
        page.locator(".tag-row .tag-value").last.fill(value)


def named_fields(page: Page) -> set[str]:
    return {line.split(": ", 1)[0] for line in page.locator("#problems li").all_inner_texts()}


def _is_library_code(entry: dict[str, Any]) -> bool:
    """The built bundle: MSAL's and the storage SDK's code name these things as words (the SDK
    even carries Azurite's published development key for ``UseDevelopmentStorage=true``)."""
    kind = entry["headers"].get("content-type", "")
    return entry["kind"] == "response" and ("javascript" in kind or "html" in kind)


def secrets_found(
    context: BrowserContext, network: NetworkLog, values: tuple[str, ...] = ()
) -> list[str]:
    """Where a key, connection string, SAS or function key shows up, and tokens in
    localStorage or cookies. ``values`` are this stack's own secrets, looked for everywhere."""
    found: list[str] = []

    def scan(where: str, text: str, markers: tuple[str, ...]) -> None:
        found.extend(f"{where}: {m[:20]}" for m in markers if m in text)

    state = context.storage_state()
    for cookie in state["cookies"]:
        text = f"{cookie['name']}={cookie['value']}"
        scan(f"cookie {cookie['name']}", text, SECRET_MARKERS + values)
        if JWT.search(text):
            found.append(f"token in cookie {cookie['name']}")
    for origin in state["origins"]:
        for item in origin["localStorage"]:
            text = f"{item['name']}={item['value']}"
            where = f"localStorage of {origin['origin']}: {item['name'][:40]}"
            scan(where, text, SECRET_MARKERS + values)
            if JWT.search(text):
                found.append(f"token in {where}")
    for entry in network.entries:
        where = f"{entry['kind']} {entry['url'][:80]}"
        scan(where, " ".join([entry["url"], repr(entry["headers"])]), SECRET_MARKERS + values)
        markers = values if _is_library_code(entry) else SECRET_MARKERS + values
        scan(where, entry["body"], markers)
        url = entry["url"].split("#")[0]
        if FUNCTION_KEY_PARAM.search(url) or SAS_PARAM.search(url):
            found.append(f"key in URL {url[:80]}")
    return found


def assert_nothing_secret(context: BrowserContext, network: NetworkLog, stack: SpaStack) -> None:
    assert network.entries, "the network log is empty: nothing was scanned"
    own = (stack.azurite.connection_string, stack.arm.identity_header)
    assert secrets_found(context, network, own) == []


@pytest.fixture(scope="module")
def shared() -> dict[str, str]:
    """What one scenario leaves for the next (alice's request id)."""
    return {}


def test_sign_in_and_request_reaches_succeeded(
    stack: SpaStack, new_context: NewContext, network: NetworkLog, shared: dict[str, str]
) -> None:
    """Alice signs in, requests a cluster tagged 'Zürich-東京', and follows it to succeeded."""
    context, page = signed_in(new_context, stack.spa.origin, ALICE)
    assert ALICE.username in page.inner_text("#user-name")
    screenshot(page, "01-signed-in")
    group = f"rg-spa-{uuid.uuid4().hex[:8]}"
    request = {
        "resource_group": group,
        "location": "West Europe",
        "cluster.name": "aks-spa",
        "cluster.node_count": 2,
    }
    fill_request(page, request, {"team": TEAM})
    page.click("#submit")
    page.wait_for_selector("#status:not([hidden])")
    request_id = page.get_attribute("#status", "data-request-id")
    assert request_id
    shared["alice_request"] = request_id
    page.wait_for_selector("#status-attempt:not(:empty)")
    screenshot(page, "02-following")
    page.wait_for_selector('#status[data-phase="succeeded"]', timeout=FINISHED)
    assert page.inner_text("#status-location").endswith(f"/api/provisioning/{request_id}")
    accepted = next(
        e
        for e in network.entries
        if e["kind"] == "response" and e["status"] == 202 and "/api/provisioning" in e["url"]
    )
    assert page.inner_text("#status-retry") == f"{accepted['headers']['retry-after']} s"
    assert re.fullmatch(r"attempt \d+/\d+", page.inner_text("#status-attempt"))
    assert page.inner_text("#status-cluster").endswith("/managedClusters/aks-spa")
    page.wait_for_selector(f'#mine tr[data-request-id="{request_id}"][data-phase="succeeded"]')
    screenshot(page, "03-succeeded")
    puts = [c for c in stack.arm.calls if c.method == "PUT" and c.status in (200, 201)]
    group_put = next(c for c in puts if c.path.lower().endswith(f"/resourcegroups/{group}"))
    assert group_put.body["tags"]["team"] == TEAM
    posts = network.requests("POST", "/api/provisioning")
    assert len(posts) == 1 and posts[0]["headers"]["authorization"].startswith("Bearer ")
    assert_nothing_secret(context, network, stack)


def test_invalid_request_names_every_bad_field(
    stack: SpaStack, new_context: NewContext, network: NetworkLog
) -> None:
    """Client-side rules stop the form before anything is sent; the 400 names the rest."""
    context, page = signed_in(new_context, stack.spa.origin, ALICE)
    posts_before = len(network.requests("POST", "/api/provisioning"))
    bad = {
        "resource_group": "rg-ends-with.",
        "location": "West-Europe!",
        "cluster.name": "-aks-",
        "cluster.kubernetes_version": "1.31.0.1",
        "cluster.node_count": 0,
        "cluster.vm_size": "D4s_v5",
    }
    fill_request(page, bad, {"cost/center": "42"})
    page.click("#submit")
    page.wait_for_selector('#problems[data-source="browser"] li')
    assert named_fields(page) == {*bad, "tags.cost/center"}
    assert page.locator(".field.bad").count() == len(bad) + 1
    assert len(network.requests("POST", "/api/provisioning")) == posts_before  # nothing sent
    screenshot(page, "04-invalid-in-the-browser")

    # Rules no schema can say: tag names differing by case, the 80-character node group name.
    page.reload()
    page.wait_for_selector("#signed-in:not([hidden])")
    server_only = {
        "resource_group": "rg-" + "x" * 60,
        "location": "westeurope",
        "cluster.name": "aks-with-a-rather-long-name",
    }
    fill_request(page, server_only, {"Team": "a", "team": "b"})
    page.click("#submit")
    page.wait_for_selector('#problems[data-source="server"] li')
    assert named_fields(page) == {"resource_group", "tags.Team", "tags.team"}
    assert "400 InvalidRequest" in page.inner_text("#api-error")
    assert len(network.requests("POST", "/api/provisioning")) == posts_before + 1
    screenshot(page, "05-invalid-from-the-api")
    assert_nothing_secret(context, network, stack)


def test_second_user_does_not_see_the_first_users_request(
    stack: SpaStack, new_context: NewContext, network: NetworkLog, shared: dict[str, str]
) -> None:
    """Bob, in his own browser, lists no request of Alice's."""
    alice_request = shared.get("alice_request")
    if alice_request is None:
        pytest.skip("needs the first scenario's request (run the module)")
    context, page = signed_in(new_context, stack.spa.origin, BOB)
    page.wait_for_selector("#mine[data-count]")
    assert page.locator(f'#mine tr[data-request-id="{alice_request}"]').count() == 0
    assert page.get_attribute("#mine", "data-count") == "0"
    assert BOB.username in page.inner_text("#user-name")
    screenshot(page, "06-second-user")
    assert_nothing_secret(context, network, stack)


def test_direct_queue_mode_reaches_succeeded(
    stack: SpaStack, new_context: NewContext, network: NetworkLog
) -> None:
    """Olivia (ReadAll, so she can follow a requester-less request) drops it on the queue."""
    context, page = signed_in(new_context, stack.spa.origin, OLIVIA)
    page.check('input[name="mode"][value="queue"]')
    request = {
        "resource_group": f"rg-queue-{uuid.uuid4().hex[:8]}",
        "location": "westeurope",
        "cluster.name": "aks-direct",
        "cluster.node_count": 1,
    }
    fill_request(page, request, {"team": TEAM})
    page.click("#submit")
    page.wait_for_selector('#status[data-phase="succeeded"]', timeout=FINISHED)
    screenshot(page, "07-direct-queue")
    sends = network.requests("POST", f"/{stack.queue_name}/messages")
    assert len(sends) == 1
    assert sends[0]["headers"]["authorization"].startswith("Bearer ")
    assert_nothing_secret(context, network, stack)


def test_page_from_another_origin_is_refused_by_cors(
    stack: SpaStack, new_context: NewContext, network: NetworkLog
) -> None:
    """Served from http://127.0.0.1:<port>, the page signs in but the API's preflight fails."""
    context = new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    sign_in(page, stack.spa.other_origin, ALICE)
    page.wait_for_selector("#api-error:not([hidden])")
    assert "CORS" in page.inner_text("#api-error")
    refused = [line for line in console if "blocked by CORS policy" in line]
    assert refused and stack.spa.other_origin in refused[0]
    assert "preflight" in refused[0]
    screenshot(page, "08-other-origin-refused")
    assert_nothing_secret(context, network, stack)


def test_the_scan_finds_a_planted_key(
    stack: SpaStack, new_context: NewContext, network: NetworkLog
) -> None:
    """The secret scan is not vacuous: a key put in localStorage and a token are both found."""
    context = new_context()
    page = context.new_page()
    page.goto(f"{stack.spa.origin}/")
    page.evaluate(
        "([k, t]) => { localStorage.setItem('k', k); localStorage.setItem('t', t); }",
        [ACCOUNT_KEY, "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl"],
    )
    found = secrets_found(context, network)
    assert any("localStorage" in where and not where.startswith("token") for where in found)
    assert any(where.startswith("token in localStorage") for where in found)
