"""The counter rating device in a real browser (Debian's Chromium driven by Playwright): paired
once, idle, the staff's signal brings up the rating screen, the citizen rates, the device is
idle again, and the staff side learns "rated" without the level (C10). A screen left alone
goes back to idle by itself and counts as not rated. Skipped when Chromium or Playwright is
missing, except in CI (CI=true), where it fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from haochaping.channels import device_pages
from tests import browser_support

# Skips this module when Playwright or Chromium is missing (tests/browser_support.py).
from tests.browser_support import Browser, expect, serving
from tests.channels.test_device import World, signal, status, world

browser = browser_support.browser
__all__ = ["browser", "world"]

TABLET = {"width": 1024, "height": 768}
ARTIFACTS = Path(os.environ.get("HCP_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
IDLE = "欢迎您对本窗口的服务进行评价"


def test_signal_rating_screen_rating_and_back_to_idle(
    world: World, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device_pages, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(device_pages, "DONE_SECONDS", 1)
    monkeypatch.setattr(device_pages, "SCREEN_TIMEOUT_SECONDS", 2)
    with serving(world.app) as base, TestClient(world.app) as staff:
        context = browser.new_context(locale="zh-CN", viewport=TABLET)
        page = context.new_page()
        try:
            page.goto(base + "/device")
            expect(page.get_by_role("heading", level=1)).to_have_text("评价器配对")
            page.get_by_label("配对码").fill(world.code)
            page.get_by_role("button", name="配对").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(IDLE)
            expect(page.get_by_text("W1号窗口")).to_be_visible()
            expect(page.locator("#no-script")).to_have_count(0)
            expect(page.locator("#device-status")).to_have_text("已就绪，等待办理完成")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "device-idle.png"))

            sent = signal(staff, world, "D-1")
            assert sent.status_code == 202, sent.text
            signal_id = sent.json()["signal_id"]
            assert sent.json()["device_connected"] is True

            # The rating screen of that very case comes up by itself.
            heading = page.get_by_role("heading", level=1)
            expect(heading).to_have_text("请您对本次服务进行评价")
            expect(page.get_by_text("D-1", exact=True)).to_be_visible()
            assert status(staff, world, signal_id).json()["status"] == "shown"
            page.get_by_label("满意", exact=True).check()
            page.screenshot(path=str(ARTIFACTS / "device-rating.png"), full_page=True)
            page.get_by_role("button", name="提交评价").click()
            expect(heading).to_have_text("评价已提交，感谢您的评价！")
            expect(page.get_by_text("满意", exact=True)).to_have_count(0)
            # Back to idle without anyone touching it.
            expect(heading).to_have_text(IDLE, timeout=10_000)
            expect(page.locator("#device-status")).to_have_text("已就绪，等待办理完成")

            answer = status(staff, world, signal_id, "clerk")
            assert answer.json() == {"signal_id": signal_id, "status": "rated"}
            assert "level" not in answer.text and "满意" not in answer.text

            # The next citizen walks away: the screen goes back to idle after the timeout.
            second = signal(staff, world, "D-2").json()["signal_id"]
            expect(heading).to_have_text("请您对本次服务进行评价")
            expect(heading).to_have_text(IDLE, timeout=10_000)
            assert status(staff, world, second).json()["status"] == "not_rated"
        finally:
            page.goto("about:blank")
            context.close()


def test_without_javascript_the_device_says_so(world: World, browser: Browser) -> None:
    with serving(world.app) as base:
        context = browser.new_context(locale="zh-CN", viewport=TABLET, java_script_enabled=False)
        page = context.new_page()
        try:
            page.goto(base + "/device")
            page.get_by_label("配对码").fill(world.code)
            page.get_by_role("button", name="配对").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(IDLE)
            expect(page.get_by_text("请启用脚本（JavaScript）", exact=False)).to_be_visible()
        finally:
            context.close()
