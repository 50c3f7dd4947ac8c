"""Browser tests: headless Chromium (Debian's) driven by Playwright's sync API against pytest-django's live server.

Run with ``make test-browser`` (``CRM_TESTING=1 DATABASE_URL= .venv/bin/pytest -q e2e -p no:xdist``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls there unless told.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

CHROMIUM = os.environ.get("CRM_E2E_CHROMIUM", "/usr/bin/chromium")
INITIAL_PASSWORD = "123456"
NEW_PASSWORD = "Club-2026-xyz"
TIMEOUT_MS = 10_000

expect.set_options(timeout=TIMEOUT_MS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (make chromium)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


def _new_page(browser: Browser, **context_options: Any) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A desktop-sized page in a fresh browser context (own cookies and sessionStorage)."""
    yield from _new_page(browser, viewport={"width": 1366, "height": 900})


@pytest.fixture
def person(browser: Browser, app_url: str) -> Iterator[Callable[[str], Page]]:
    """Several people at once, each in a browser context of their own: ``zhang = person("张伟")`` logs 张伟 in
    (through the forced change of the initial password) and returns his desktop-sized page at the home page."""
    opened: list[Any] = []  # _new_page generators, one per person

    def log_in_as(name: str) -> Page:
        pages = _new_page(browser, viewport={"width": 1366, "height": 900})
        opened.append(pages)
        page = next(pages)
        log_in_first_time(page, app_url, name)
        return page

    yield log_in_as
    for pages in opened:
        pages.close()  # runs _new_page's finally: closes that person's browser context


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    """A phone-sized page (390×844, touch)."""
    yield from _new_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)


@pytest.fixture
def demo(transactional_db: None, settings: Any) -> None:
    """The demo organisation (13 people, departments, roles, dictionaries) in the test database."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from crm.accounts.demo import load_demo

    load_demo()


@pytest.fixture
def app_url(live_server: Any, demo: None) -> str:
    """The app's root under its /CRM/ prefix on the live server, with the demo data loaded."""
    return f"{live_server.url}/CRM/"


# --------------------------------------------------------------------------------------------------
# Helpers a test uses as a person would: labels and buttons by their Chinese text
# --------------------------------------------------------------------------------------------------


def label(text: str) -> re.Pattern[str]:
    """A field's label exactly, allowing the required-field asterisk: 新密码 but not 确认新密码."""
    return re.compile(rf"^\s*{re.escape(text)}\s*\*?\s*$")


def log_in(page: Page, app_url: str, name: str, password: str = INITIAL_PASSWORD) -> None:
    """Open the login page and submit name and password (no assertion on the outcome)."""
    page.goto(f"{app_url}login/")
    page.get_by_label(label("姓名")).fill(name)
    page.get_by_label(label("密码")).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()


def change_initial_password(page: Page, new_password: str = NEW_PASSWORD) -> None:
    """On the forced change-password page: old, new twice, 保存; lands on the home page."""
    expect(page.get_by_role("heading", name="密码修改")).to_be_visible()
    page.get_by_label(label("原密码")).fill(INITIAL_PASSWORD)
    page.get_by_label(label("新密码")).fill(new_password)
    page.get_by_label(label("确认新密码")).fill(new_password)
    page.get_by_role("button", name="保存").click()


def log_in_first_time(page: Page, app_url: str, name: str) -> None:
    """Log in with the initial password, go through the forced change, and arrive at the home page."""
    log_in(page, app_url, name)
    expect(page).to_have_url(re.compile(r"/CRM/self-service/password/$"))
    change_initial_password(page)
    expect(page).to_have_url(re.compile(r"/CRM/$"))
    expect(page.get_by_role("heading", name=re.compile("您好"))).to_be_visible()


def sidebar(page: Page) -> Locator:
    """The left-hand function menu (a sidebar on a desktop, a slide-in dialog on a phone)."""
    return page.get_by_label("功能菜单", exact=True)


def tab(page: Page, title: str) -> Locator:
    """A tab header in the main area, by its title (the header also holds its × button)."""
    return page.get_by_role("tab", name=re.compile(rf"^{re.escape(title)}(\s|$)"))


def active_pane(page: Page) -> Locator:
    """The content of the tab being shown (the other tabs' contents are hidden)."""
    return page.locator("#crm-panes > section:not([hidden])")


def list_count(page: Page) -> Locator:
    """The "共 N 条" line of the list in the tab being shown."""
    return active_pane(page).get_by_test_id("list-count")


def table_rows(page: Page) -> Locator:
    """The data rows of the list in the tab being shown."""
    return active_pane(page).locator("table tbody tr")
