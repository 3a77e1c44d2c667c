"""One Chromium per thread, reused across pulls (a fresh context each); injectable; the thread
is plain sync again between sessions (Prefect's sync-or-async APIs keep working there)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest

from bots import pull_remittances, thread_browser

WIDE = (dt.date(2000, 1, 1), dt.date(2099, 12, 31))


def _no_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


@pytest.mark.browser
def test_pulls_of_a_thread_share_its_browser_in_fresh_contexts(northwind_env, tmp_path):
    first = pull_remittances("northwind", *WIDE, tmp_path / "a")
    browser = thread_browser()
    assert browser.contexts == []  # the pull's context is closed; the browser stays
    again = pull_remittances("northwind", *WIDE, tmp_path / "b")
    assert thread_browser() is browser
    assert len(again.downloaded) == len(first.downloaded) > 0
    assert _no_running_loop()  # between sessions the thread is not "inside" Playwright's loop


@pytest.mark.browser
def test_another_thread_gets_its_own_browser(northwind_env, tmp_path):
    mine = thread_browser()
    seen: dict[str, object] = {}

    def work() -> None:
        seen["result"] = pull_remittances("northwind", *WIDE, tmp_path / "t")
        seen["browser"] = thread_browser()

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(120)
    assert seen["result"].downloaded and seen["browser"] is not mine


@pytest.mark.browser
def test_an_injected_browser_is_used_instead(northwind_env, tmp_path, monkeypatch):
    import bots.session

    browser = thread_browser()

    def refuse(**kwargs):
        raise AssertionError("the shared browser was asked for")

    monkeypatch.setattr(bots.session, "thread_browser", refuse)
    result = pull_remittances("northwind", *WIDE, tmp_path / "dl", browser=browser)
    assert result.downloaded
