"""Headless Chromium driving the admin on pytest-django's ``live_server``.

Debian's ``chromium`` and ``chromium-driver`` (``make system-deps`` installs them):
selenium is handed both paths, so it never looks for or downloads a browser. Without
them a test skips on a laptop and fails in CI (``tests/needs.py``).

``ONESTEP_DOCS_SCREENSHOTS=1`` makes ``Browser.screenshot(name)`` write
``docs/img/<name>.png`` (the operations page's pictures); otherwise it does nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import manage  # the worker subprocess fixture
from tests.needs import require_module, require_program
from tests.waiting import wait_until

webdriver = require_module("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402  (after the skip above)
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402

__all__ = ["Browser", "browser", "manage"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,860",
)


class Browser:
    """A selenium driver bound to the live server's URL, with the few verbs the tests use."""

    def __init__(self, driver: Any, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def login(self, username: str, password: str) -> None:
        self.open("/admin/login/?next=/admin/")
        self.css("#id_username").send_keys(username)
        self.css("#id_password").send_keys(password)
        self.css("input[type=submit]").click()
        wait_until(lambda: "/admin/login/" not in self.driver.current_url, timeout_s=10)

    def css(self, selector: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def text(self) -> str:
        try:
            return str(self.css("body").text)
        except (StaleElementReferenceException, NoSuchElementException):
            return ""  # between two pages

    def wait_for_text(self, text: str, *, reload: bool = False, timeout_s: float = 30.0) -> None:
        def shown() -> bool:
            if text in self.text():
                return True
            if reload:
                self.driver.refresh()
            return False

        try:
            wait_until(shown, timeout_s=timeout_s, what=f"{text!r} on the page", interval_s=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the page says:\n{self.text()}") from None

    def post(self, path: str, fields: dict[str, str] | None = None) -> int:
        """A forged POST from the logged-in page (with its CSRF cookie); the HTTP status."""
        script = """
            const [path, fields, done] = arguments;
            const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
            const body = new FormData();
            for (const [name, value] of Object.entries(fields)) body.append(name, value);
            fetch(path, {method: 'POST', headers: {'X-CSRFToken': token}, body, redirect: 'manual'})
                .then(r => done(r.status), () => done(-1));
        """
        return int(self.driver.execute_async_script(script, path, fields or {}))

    def screenshot(self, name: str) -> None:
        if os.environ.get("ONESTEP_DOCS_SCREENSHOTS"):
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(DOCS_IMG / f"{name}.png"))


@pytest.fixture
def browser(live_server: Any, tmp_path: Path) -> Iterator[Browser]:
    require_program(CHROMIUM, package="chromium")
    driver_path = require_program(CHROMEDRIVER, package="chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_script_timeout(10)
    try:
        yield Browser(driver, live_server.url)
    finally:
        driver.quit()


def staff(username: str, *codenames: str) -> None:
    """Create a staff user with ``codenames`` permissions (password ``pw``)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
