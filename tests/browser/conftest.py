"""Browser tests: Debian's Chromium driven by Playwright's sync API against a
real engine (daphne, rq workers, clock) from tests/conftest.py."""

import os
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long a live update may take to show: a whole order takes well under a
# second on the fast test market; the rest is headroom for a loaded machine.
DEADLINE_MS = 20_000

# Chromium logs every HTTP error response as a console error. A test that
# provokes one on purpose (a 400 for a bad amount) declares its status.
HTTP_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")


@pytest.fixture(scope="package", autouse=True)
def allow_sync_database_calls_beside_playwright():
    """Playwright's sync API runs an event loop in this thread; Django would
    then refuse the tests' own (synchronous) database calls. Only for these
    tests: the engine's processes never get this variable."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


# Package scope: the event loop of Playwright's sync API must be gone before
# the other tests run asyncio themselves.
@pytest.fixture(scope="package")
def browser(allow_sync_database_calls_beside_playwright):
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: install it (apt-get install -y chromium) to run the browser tests"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=DEADLINE_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            # Playwright turns the back/forward cache off; a trader's browser has it.
            ignore_default_args=["--disable-back-forward-cache"],
        )
        yield browser
        browser.close()


class Console:
    """JavaScript errors and console errors a page produced."""

    def __init__(self):
        self.errors: list[str] = []
        self.allowed_statuses: set[int] = set()

    def allow_http(self, *statuses: int) -> None:
        self.allowed_statuses.update(statuses)

    def allow_lost_requests(self) -> None:
        """A test that cuts a request off: the browser logs it as an error."""
        self.allowed_statuses.add(0)

    def on_console(self, message) -> None:
        if message.type != "error":
            return
        http = HTTP_ERROR.search(message.text)
        if http and int(http.group(1)) in self.allowed_statuses:
            return
        if 0 in self.allowed_statuses and "net::ERR_FAILED" in message.text:
            return
        self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error) -> None:
        self.errors.append(f"pageerror: {error}")


@pytest.fixture
def console():
    return Console()


def _new_page(browser, console, **options):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.set_default_timeout(DEADLINE_MS)
    page = context.new_page()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    return context, page


@pytest.fixture
def page(browser, console):
    """A fresh browser context per test; fails the test on any JavaScript error."""
    context, page = _new_page(browser, console)
    yield page
    context.close()
    assert not console.errors, "JavaScript errors in the browser:\n" + "\n".join(console.errors)


@pytest.fixture
def no_js_page(browser, console):
    """A browser with JavaScript off: the pages must work as plain HTML forms."""
    context, page = _new_page(browser, console, java_script_enabled=False)
    yield page
    context.close()


OPERATOR_PASSWORD = "operator-password-1"


@pytest.fixture
def operator(transactional_db):
    return User.objects.create_superuser("operator", "operator@example.com", OPERATOR_PASSWORD)


def log_in(page, engine, user) -> None:
    """Log in through the admin's login form, in this page's browser context."""
    from playwright.sync_api import expect

    page.goto(f"{engine.url}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.fill("#id_username", user.username)
    page.fill("#id_password", OPERATOR_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(user.username)


@pytest.fixture
def admin_page(engine, page, operator):
    log_in(page, engine, operator)
    return page
