"""The dashboard in Debian's Firefox ESR, driven over WebDriver BiDi (tests/firefox_bidi.py;
Playwright cannot drive this Firefox): the same page shows the same gateway as in Chromium, its
controls act, the keyboard reaches the views, and it fits 1280 px and a narrow window."""

from __future__ import annotations

import asyncio
import json

from .browser_support import CAREFUL_KEY, Scene, firefox_path, scene, screenshot_path
from .firefox_bidi import TAB, Firefox, firefox

OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _q(selector: str) -> str:
    return json.dumps(selector)


async def _text(browser: Firefox, selector: str) -> str:
    return str(await browser.evaluate(f"document.querySelector({_q(selector)})?.textContent ?? ''"))


async def test_the_dashboard_in_firefox() -> None:
    path = firefox_path()
    with scene() as world:
        careless = await asyncio.to_thread(world.careless_client)
        careful = await asyncio.to_thread(world.careful_client)
        async with firefox(path) as browser:
            assert "firefox" in (await browser.evaluate("navigator.userAgent")).lower()
            await browser.viewport(1280, 900)
            await browser.goto(world.page_url)
            rows = await browser.wait_for(
                "[...document.querySelectorAll('#jobs-table tbody tr')].map(r => "
                "[r.dataset.requestId, r.querySelector('.status-cell').textContent])"
                ".filter(r => r[0]).length === 2 && "
                "[...document.querySelectorAll('#jobs-table tbody tr')].map(r => "
                "[r.dataset.requestId, r.querySelector('.status-cell').textContent])",
                "both jobs' rows",
            )
            assert [r[0] for r in rows] == [careful, careless]  # newest first
            assert all("COMPLETED" in r[1] for r in rows)
            assert await browser.evaluate(OVERFLOW) <= 0
            await browser.screenshot(screenshot_path("firefox-jobs"))

            # the focus order starts at the skip link, then the views
            order = []
            for _ in range(3):
                await browser.press(TAB)
                order.append(await browser.evaluate("document.activeElement.textContent.trim()"))
            assert order == ["Skip to the view", "Jobs", "Contract"]

            await browser.goto(f"{world.page_url}#job/{careless}")
            marks = await browser.wait_for(
                "document.querySelectorAll('svg.timeline-svg g.poll').length === 5 && "
                "[document.querySelectorAll('svg.timeline-svg g.poll.too-close').length, "
                "document.querySelectorAll('#polls-table tr.too-close').length]",
                "the careless job's poll marks",
            )
            assert marks == [4, 4]
            assert "5 (4 closer than 5 s)" in await _text(browser, "dl.summary")
            await browser.screenshot(screenshot_path("firefox-job"))

            await browser.goto(f"{world.page_url}#contract")
            rule = await browser.wait_for(
                "document.querySelector('[data-rule=\"poll-interval\"]')?.textContent",
                "the poll-interval rule",
            )
            assert "broken" in rule
            assert "How to fix: Sleep at least 5 s" in rule
            evidence = await browser.evaluate(
                "[...document.querySelectorAll('[data-rule=\"poll-interval\"] .evidence a')]"
                ".map(a => a.getAttribute('href'))"
            )
            assert evidence
            assert all(href.startswith("#journal/") for href in evidence)
            await browser.screenshot(screenshot_path("firefox-contract"))

            await browser.goto(f"{world.page_url}#wallets")
            balance = await browser.wait_for(
                "document.querySelector('#wallets-table tr[data-key=\"****0001\"] .balance')"
                "?.textContent",
                "the careful client's wallet",
            )
            assert balance == "9.52"

            await _controls_in_firefox(browser, world)

            await browser.viewport(390, 844)
            for view in ("jobs", "contract", "journal", "wallets", "controls", f"job/{careful}"):
                await browser.goto(f"{world.page_url}#{view}")
                await browser.wait_for("!!document.querySelector('main h2')", f"the {view} view")
                await asyncio.sleep(0.3)  # one refresh has filled the view
                assert await browser.evaluate(OVERFLOW) <= 0, view
            await browser.screenshot(screenshot_path("firefox-job-390px"))


async def _controls_in_firefox(browser: Firefox, world: Scene) -> None:
    request_id = await asyncio.to_thread(world.submit, CAREFUL_KEY)
    await browser.goto(f"{world.page_url}#controls")
    await browser.wait_for("!!document.querySelector('#command-request')", "the controls")
    await browser.evaluate(
        f"""(() => {{
          document.querySelector('#command-request').value = {json.dumps(request_id)};
          document.querySelector('#command-name').value = 'error';
          document.querySelector('#command-form button[type=submit]').click();
          return true; }})()"""
    )
    answer = await browser.wait_for(
        "document.querySelector('#answer')?.textContent.includes('/error \u2192 200') && "
        "document.querySelector('#answer').textContent",
        "the command's answer",
    )
    assert request_id in answer
    job = await asyncio.to_thread(world.admin, "GET", f"jobs/{request_id}")
    assert job["status"] == "ERROR"
