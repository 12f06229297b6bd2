"""The dashboard in a real browser (Debian's Chromium, driven by Playwright): what each view
shows of a gateway two clients used, its controls acting through the operator API, the operator
token, keyboard use and narrow windows. Screenshots of each view land in test-artifacts/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from .browser_support import (
    CAREFUL_KEY,
    CARELESS_KEY,
    TIMEOUT_MS,
    Scene,
    chromium_path,
    scene,
    screenshot_path,
)
from .store_support import sqlite_writable
from .support import DOC_HEADERS, GENERATE_PATH

WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}
VIEWS = ("jobs", "contract", "journal", "wallets", "controls")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=chromium_path(),
        args=["--no-sandbox"],  # tests run as root in CI, where Chromium's sandbox cannot start
        timeout=60_000,
    )
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def gateway() -> Iterator[Scene]:
    with scene() as running:
        yield running


@pytest.fixture
def world(gateway: Scene) -> Scene:
    gateway.admin("DELETE", "scenario")
    gateway.admin("POST", "reset")
    gateway.gw.call(gateway.gw.gateway.store.journal_clear)  # each test's journal starts empty
    return gateway


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=WIDE, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []  # no script error on any page a test opened


def open_view(page: Page, world: Scene, view: str) -> None:
    page.goto(f"{world.page_url}#{view}")
    expect(page.locator("main h2").first).to_be_visible()


# jobs ---------------------------------------------------------------------------------------


def test_a_jobs_row_follows_its_status_as_the_clock_moves(page: Page, world: Scene) -> None:
    open_view(page, world, "jobs")
    expect(page.locator("#jobs-table + *, .count").first).to_have_text("No jobs yet.")
    request_id = world.submit(CAREFUL_KEY)
    row = page.locator(f'#jobs-table tr[data-request-id="{request_id}"]')
    expect(row.locator(".status-cell")).to_have_text(re.compile("QUEUED"))
    expect(row).to_contain_text("****0001")
    expect(row).to_contain_text("bytedance-omnihuman-v1-5-290")
    expect(row).to_contain_text("480p")
    world.advance(1)
    expect(row.locator(".status-cell")).to_have_text(re.compile("PROCESSING"))
    expect(row).to_contain_text("0.48")  # 3 s of audio, priced once probed: 3 x 0.16 USD
    world.advance(2)
    expect(row.locator(".status-cell")).to_have_text(re.compile("COMPLETED"))
    world.careless_client()
    expect(page.locator("#jobs-table tbody tr")).to_have_count(2)
    first = page.locator("#jobs-table tbody tr").first
    expect(first).to_contain_text("****0002")  # newest first
    page.screenshot(path=screenshot_path("jobs"), full_page=True)


def test_the_jobs_filters_and_pages(page: Page, world: Scene) -> None:
    ids = [world.submit(CAREFUL_KEY) for _ in range(55)]
    ids.append(world.submit(CARELESS_KEY))
    world.admin("POST", f"jobs/{ids[0]}/error")
    open_view(page, world, "jobs")
    expect(page.locator(".count")).to_have_text("Showing 1\u201350 of 56 jobs.")
    expect(page.locator("#jobs-table tbody tr")).to_have_count(50)
    page.get_by_role("button", name="Older").click()
    expect(page.locator(".count")).to_have_text("Showing 51\u201356 of 56 jobs.")
    expect(page.locator("#jobs-table tbody tr").last).to_have_attribute("data-request-id", ids[0])
    page.get_by_label("Status").select_option("ERROR")
    expect(page.locator(".count")).to_have_text("Showing 1\u20131 of 1 job.")
    expect(page.locator("#jobs-table tbody tr .status-cell")).to_have_text(re.compile("ERROR"))
    page.get_by_label("Status").select_option("")
    page.get_by_label("Key (last four characters)").fill("0002")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#jobs-table tbody tr")).to_have_count(1)
    expect(page.locator("#jobs-table tbody tr")).to_have_attribute("data-request-id", ids[-1])


def test_thousands_of_jobs_are_paged_not_drawn_at_once(page: Page, world: Scene) -> None:
    for _ in range(1500):
        world.submit(CAREFUL_KEY)
    open_view(page, world, "jobs")
    expect(page.locator(".count")).to_have_text("Showing 1\u201350 of 1500 jobs.")
    assert page.locator("#jobs-table tbody tr").count() == 50
    took = page.evaluate(
        """async () => { const t = performance.now();
             await fetch('/_mock/jobs?limit=50', {headers: {'X-Mock-Dashboard': '1'}});
             return performance.now() - t; }"""
    )
    assert took < 2000, took  # one page of 50 answers quickly, whatever the total


# one job --------------------------------------------------------------------------------------


def test_a_careless_clients_job_shows_its_too_close_polls(page: Page, world: Scene) -> None:
    careless = world.careless_client()
    page.goto(f"{world.page_url}#job/{careless}")
    timeline = page.locator("svg.timeline-svg")
    expect(timeline.locator("g.poll")).to_have_count(5)
    expect(timeline.locator("g.poll.too-close")).to_have_count(4)  # every gap was 1 s
    expect(timeline.locator("g.phase")).to_have_count(3)
    phases = timeline.locator("g.phase").evaluate_all("gs => gs.map(g => g.dataset.phase)")
    assert phases == ["QUEUED", "PROCESSING", "COMPLETED"]
    title = timeline.locator("title").first.text_content() or ""
    assert "5 polls, 4 closer than 5 s" in title
    flagged = page.locator("#polls-table tbody tr.too-close")
    expect(flagged).to_have_count(4)
    expect(flagged.first).to_contain_text("too close")  # a word, not colour alone
    expect(page.locator("#polls-table tbody tr").first).to_contain_text("ok")
    expect(page.locator("dl.summary")).to_contain_text("5 (4 closer than 5 s)")
    expect(page.locator(".video video")).to_have_attribute("src", re.compile(r"output\.mp4"))
    last_seen = json.loads(page.locator("pre.json").last.text_content() or "{}")
    assert (last_seen["request_id"], last_seen["status"]) == (careless, "COMPLETED")
    page.screenshot(path=screenshot_path("job-careless"), full_page=True)


def test_a_careful_clients_job_has_no_highlighted_poll_and_plays(page: Page, world: Scene) -> None:
    careful = world.careful_client()
    page.goto(f"{world.page_url}#job/{careful}")
    expect(page.locator("svg.timeline-svg g.poll")).to_have_count(2)
    expect(page.locator("svg.timeline-svg g.poll.too-close")).to_have_count(0)
    video = page.locator(".video video")
    expect(video).to_be_visible()
    # the video plays inline, fetched by the browser with the gateway's Range support
    page.evaluate("v => { v.muted = true; return v.play(); }", video.element_handle())
    page.wait_for_function("v => v.currentTime > 0.2", arg=video.element_handle())
    duration = page.evaluate("v => v.duration", video.element_handle())
    assert 2.9 < duration < 3.2, duration
    ranged = world.admin("GET", "journal?route=media&status=206")["entries"]
    assert ranged  # the browser asked for byte ranges, and got them
    page.screenshot(path=screenshot_path("job-careful"), full_page=True)


def test_webhook_attempts_show_their_outcome(page: Page, world: Scene) -> None:
    receiver = f"{world.url}/_mock/health"  # answers a POST with 405: every attempt fails
    request_id = world.submit(CAREFUL_KEY, **{"X-Webhook-URL": receiver})
    world.advance(3)
    world.gw.settle()
    world.advance(1)  # the first retry
    world.gw.settle()
    page.goto(f"{world.page_url}#job/{request_id}")
    rows = page.locator("#webhooks-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("405")
    expect(rows.first).to_contain_text("failed")
    expect(page.locator("svg.timeline-svg g.hook.failed")).to_have_count(2)


def test_the_job_commands_act_through_the_operator_api(page: Page, world: Scene) -> None:
    request_id = world.submit(CAREFUL_KEY)
    page.goto(f"{world.page_url}#job/{request_id}")
    page.get_by_label("Message (fail, error)").fill("The portrait has no face.")
    page.get_by_role("button", name="Fail").click()
    expect(page.locator("#answer")).to_contain_text(f"POST /_mock/jobs/{request_id}/fail")
    expect(page.locator("#answer")).to_contain_text("200")
    job = world.admin("GET", f"jobs/{request_id}")
    assert (job["status"], job["error"]) == ("FAILED", "The portrait has no face.")
    expect(page.locator("dl.summary")).to_contain_text("FAILED")
    expect(page.get_by_role("button", name="Complete")).to_be_disabled()


# contract -------------------------------------------------------------------------------------


def test_the_contract_view_shows_the_broken_rule_with_evidence(page: Page, world: Scene) -> None:
    world.careful_client()
    open_view(page, world, "contract")
    expect(page.locator('[data-rule="poll-interval"]')).to_contain_text("held")
    careless = world.careless_client()
    rule = page.locator('[data-rule="poll-interval"]')
    expect(rule).to_contain_text("broken", timeout=TIMEOUT_MS)  # asked again within 5 s
    expect(rule).to_contain_text(f"****0002: request {careless} was polled 5 times")
    expect(rule.locator(".fix")).to_have_text(
        "How to fix: Sleep at least 5 s between status polls of a request, or use X-Webhook-URL."
    )
    expect(page.locator('[data-rule="poll-after-terminal"]')).to_contain_text("broken")
    expect(page.locator('[data-rule="download-output"]')).to_contain_text("broken")
    expect(page.locator(".overall")).to_contain_text("Contract broken")
    page.screenshot(path=screenshot_path("contract"), full_page=True)
    evidence = rule.locator(".evidence a").first
    seq = (evidence.get_attribute("href") or "").rsplit("/", 1)[1]
    evidence.click()
    entry = page.locator(f'details.entry[data-seq="{seq}"]')
    expect(entry).to_have_attribute("open", "")
    expect(entry).to_contain_text(f"/v2/requests/status/{careless}")
    expect(entry).to_contain_text("****0002")  # the key, redacted as everywhere


# journal --------------------------------------------------------------------------------------


def test_the_journal_filters_expands_and_downloads_har(
    page: Page, world: Scene, tmp_path: Path
) -> None:
    world.careless_client(polls=3)
    open_view(page, world, "journal")
    expect(page.locator("details.entry")).to_have_count(4)  # the generate and three polls
    page.get_by_label("Route").select_option("status")
    expect(page.locator("details.entry")).to_have_count(3)
    entry = page.locator("details.entry").first
    entry.locator("summary").click()
    body = entry.locator(".entry-body")
    expect(body).to_contain_text("Ocp-Apim-Subscription-Key")
    expect(body).to_contain_text("****0002")
    expect(body).not_to_contain_text(CARELESS_KEY)
    page.screenshot(path=screenshot_path("journal"), full_page=True)
    with page.expect_download() as caught:
        page.get_by_role("button", name="Download HAR").click()
    saved = tmp_path / "journal.har"
    caught.value.save_as(saved)
    har = json.loads(saved.read_text())
    assert [e["_route"] for e in har["log"]["entries"]] == ["status"] * 3
    # the page's own reads are not journaled: only the client's requests are there
    routes = [e["route"] for e in world.admin("GET", "journal")["entries"]]
    assert routes == ["generate", "status", "status", "status"]


# wallets and controls ---------------------------------------------------------------------------


def test_the_wallet_shows_the_charge(page: Page, world: Scene) -> None:
    world.careful_client()
    open_view(page, world, "wallets")
    row = page.locator('#wallets-table tr[data-key="****0001"]')
    expect(row.locator(".balance")).to_have_text("9.52")  # 10.00 less 3 s at 0.16 USD
    expect(row.locator(".held")).to_have_text("0.00")
    expect(row.locator(".available")).to_have_text("9.52")
    ledger = page.locator('details.ledger[data-key="****0001"]')
    ledger.locator("summary").click()
    expect(ledger).to_contain_text("charge")
    expect(ledger).not_to_contain_text(CAREFUL_KEY)
    page.screenshot(path=screenshot_path("wallets"), full_page=True)


def test_the_controls_act_through_the_operator_api(page: Page, world: Scene) -> None:
    request_id = world.submit(CAREFUL_KEY)
    open_view(page, world, "controls")
    before = world.admin("GET", "clock")["now"]
    page.get_by_label("Seconds").fill("1.5")
    page.get_by_role("button", name="Advance").click()
    answer = page.locator("#answer")
    expect(answer).to_contain_text("POST /_mock/clock/advance \u2192 200")
    assert world.admin("GET", "clock")["now"] == pytest.approx(before + 1.5)

    page.get_by_label("Request id").fill(request_id)
    page.get_by_label("Command").select_option("complete")
    page.get_by_role("button", name="Send").click()
    expect(answer).to_contain_text(f"POST /_mock/jobs/{request_id}/complete \u2192 200")
    assert world.admin("GET", f"jobs/{request_id}")["status"] == "COMPLETED"

    page.get_by_label("API key (whole)").fill("team-key-77")
    page.get_by_label("Balance (USD)").fill("25.50")
    page.get_by_role("button", name="Set balance").click()
    expect(answer).to_contain_text("PUT /_mock/wallets/team-key-77 \u2192 200")
    assert world.admin("GET", "wallets/team-key-77")["balance"] == "25.50"
    page.get_by_label("Balance (USD)").fill("-3")
    page.get_by_role("button", name="Set balance").click()
    expect(answer).to_contain_text("\u2192 400 (refused)")
    expect(answer).to_contain_text("balance")

    rule = '[[faults]]\nname = "slow status"\nroute = "status"\naction = "latency"\nseconds = 1\n'
    page.get_by_label("Scenario (TOML, as in the configuration file)").fill(rule)
    page.get_by_role("button", name="Load scenario").click()
    expect(answer).to_contain_text("PUT /_mock/scenario \u2192 200")
    assert [r["name"] for r in world.admin("GET", "scenario")["rules"]] == ["slow status"]
    page.get_by_role("button", name="Reset scenario").click()
    expect(answer).to_contain_text("DELETE /_mock/scenario \u2192 200")
    assert world.admin("GET", "scenario")["rules"] == []
    page.screenshot(path=screenshot_path("controls"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Reset gateway").click()
    expect(answer).to_contain_text("POST /_mock/reset \u2192 200")
    assert world.admin("GET", "jobs")["total"] == 0


# the operator token ---------------------------------------------------------------------------


def test_with_a_token_the_page_asks_once_and_keeps_it_for_the_tab(browser: Browser) -> None:
    token = "operator-token-for-tests"
    with scene(server={"operator_token": token}) as guarded:
        request_id = guarded.submit(CAREFUL_KEY)
        context = browser.new_context(viewport=WIDE)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.goto(f"{guarded.page_url}#jobs")
        form = page.locator("#token-form")
        expect(form).to_be_visible()
        expect(page.get_by_label("Token", exact=True)).to_be_focused()
        page.get_by_label("Token", exact=True).fill("not-the-token")
        page.get_by_role("button", name="Use token").click()
        expect(form).to_be_visible()  # refused again: asked again
        page.wait_for_timeout(2500)  # the page waits for the token without asking the gateway
        knocks = guarded.admin("GET", "journal?status=401", Authorization=f"Bearer {token}")
        assert len(knocks["entries"]) == 2  # once on opening, once with the wrong token
        page.get_by_label("Token", exact=True).fill(token)
        page.get_by_role("button", name="Use token").click()
        expect(page.locator(f'tr[data-request-id="{request_id}"]')).to_be_visible()
        expect(form).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('mockgateway.operatorToken')") == token
        page.reload()
        expect(page.locator(f'tr[data-request-id="{request_id}"]')).to_be_visible()
        expect(form).to_be_hidden()
        context.close()
        refused = guarded.http.get(f"{guarded.url}/_mock/jobs", timeout=30)
        assert refused.status_code == 401
        journal = guarded.admin("GET", "journal", Authorization=f"Bearer {token}")["entries"]
        seen = json.dumps(journal)
        assert token not in seen
        assert "not-the-token" not in seen


# keyboard, accessibility, narrow windows ------------------------------------------------------


def test_accessibility_basics_in_every_view(page: Page, world: Scene) -> None:
    request_id = world.careless_client()
    for view in (*VIEWS, f"job/{request_id}"):
        page.goto(f"{world.page_url}#{view}")
        expect(page.locator("main h2").first).to_be_visible()
        page.wait_for_timeout(300)  # one refresh has filled the view
        report = page.evaluate(
            """() => {
              const unlabeled = [...document.querySelectorAll('input, select, textarea')]
                .filter(el => !el.closest('[hidden]'))
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.outerHTML);
              const nameless = [...document.querySelectorAll('button, a[href]')]
                .filter(el => !el.textContent.trim() && !el.getAttribute('aria-label'))
                .map(el => el.outerHTML);
              const levels = [...document.querySelectorAll('h1, h2, h3, h4')]
                .filter(el => !el.closest('[hidden]')).map(el => Number(el.tagName[1]));
              const skips = levels.filter((l, i) => i && l > levels[i - 1] + 1);
              const pictures = [...document.querySelectorAll('svg[role=img]')]
                .filter(svg => !svg.querySelector('title')).length;
              const tables = [...document.querySelectorAll('table')]
                .filter(t => !t.querySelector('caption')).length;
              return {unlabeled, nameless, h1: levels.filter(l => l === 1).length, skips,
                      pictures, tables, lang: document.documentElement.lang};
            }"""
        )
        assert report == {
            "unlabeled": [],
            "nameless": [],
            "h1": 1,
            "skips": [],
            "pictures": 0,
            "tables": 0,
            "lang": "en",
        }, view
        statuses = page.locator(".badge[data-status]").all_text_contents()
        assert all(re.search("QUEUED|PROCESSING|COMPLETED|FAILED|ERROR", s) for s in statuses)


def test_the_focus_order_and_keyboard_use(page: Page, world: Scene) -> None:
    request_id = world.careless_client()
    page.goto(world.page_url)
    expect(page.locator(f'tr[data-request-id="{request_id}"]')).to_be_visible()
    order = []
    for _ in range(11):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                """() => { const el = document.activeElement;
                     return el.id || el.getAttribute('aria-label') || el.textContent.trim(); }"""
            )
        )
    assert order == [
        "Skip to the view",
        "Jobs",
        "Contract",
        "Journal",
        "Wallets",
        "Controls",
        "jobs-status",
        "jobs-key",
        "Filter",
        "Jobs table",  # the table's box, scrolled by arrow keys on a narrow window
        request_id,  # the job's link; the pager's buttons are disabled with one page
    ]
    # the job's link is reached by Tab and opened by Enter; focus moves to the job's heading
    link = page.locator(f'a[href="#job/{request_id}"]')
    link.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#job-heading")).to_be_focused()
    expect(page.locator("svg.timeline-svg g.poll.too-close")).to_have_count(4)
    # a journal entry opens from the keyboard
    page.goto(f"{world.page_url}#journal")
    summary = page.locator("details.entry summary").first
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator("details.entry").first).to_have_attribute("open", "")


@pytest.mark.parametrize("size", [WIDE, NARROW], ids=["1280px", "390px"])
def test_every_view_fits_the_window(browser: Browser, world: Scene, size: dict[str, int]) -> None:
    request_id = world.careless_client()
    world.careful_client()
    context = browser.new_context(viewport=size)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        for view in (*VIEWS, f"job/{request_id}"):
            page.goto(f"{world.page_url}#{view}")
            expect(page.locator("main h2").first).to_be_visible()
            page.wait_for_timeout(300)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (view, size, overflow)  # wide tables scroll in their own box
            name = view.split("/")[0]
            page.screenshot(path=screenshot_path(f"{name}-{size['width']}px"), full_page=True)
    finally:
        context.close()


# refreshes keep focus and cost little -------------------------------------------------------

REFRESHES = 2300  # ms: two of the page's refreshes (every second)


def focused_link(page: Page) -> list[str | None] | None:
    """The focused element as [its rule card, its href] (None for <body> or a removed node)."""
    where: list[str | None] | None = page.evaluate(
        """() => { const a = document.activeElement;
             if (!a || !a.isConnected || a === document.body) return null;
             const rule = a.closest('[data-rule]');
             return [rule ? rule.dataset.rule : null, a.getAttribute('href')]; }"""
    )
    return where


def test_a_focused_jobs_link_keeps_the_focus_while_its_row_changes(
    page: Page, world: Scene
) -> None:
    request_id = world.submit(CAREFUL_KEY)
    world.submit(CARELESS_KEY)
    open_view(page, world, "jobs")
    row = page.locator(f'#jobs-table tr[data-request-id="{request_id}"]')
    row.locator("a").focus()
    world.advance(1)  # the row's status changes: the table is drawn again
    expect(row.locator(".status-cell")).to_have_text(re.compile("PROCESSING"))
    page.wait_for_timeout(REFRESHES)
    assert focused_link(page) == [None, f"#job/{request_id}"]
    page.keyboard.press("Enter")  # and the keyboard still acts on it
    expect(page.locator("#job-heading")).to_contain_text(request_id)


def test_a_focused_poll_or_webhook_link_keeps_the_focus(page: Page, world: Scene) -> None:
    receiver = f"{world.url}/_mock/health"  # answers a POST with 405: every attempt fails
    request_id = world.submit(CARELESS_KEY, **{"X-Webhook-URL": receiver})
    for _ in range(4):
        world.poll(CARELESS_KEY, request_id)
        world.advance(1)
    world.gw.settle()
    page.goto(f"{world.page_url}#job/{request_id}")
    for table in ("#polls-table", "#webhooks-table"):
        link = page.locator(f"{table} tbody tr a").first
        href = link.get_attribute("href")
        link.focus()
        page.wait_for_timeout(REFRESHES)  # each refresh draws both tables again
        assert focused_link(page) == [None, href], table


def test_a_focused_evidence_link_keeps_the_focus_when_the_verdict_changes(
    page: Page, world: Scene
) -> None:
    careless = world.careless_client()
    open_view(page, world, "contract")
    overall = page.locator(".overall")
    expect(overall).to_contain_text("Contract broken")
    before = overall.text_content()
    link = page.locator('[data-rule="poll-interval"] .evidence a').first
    href = link.get_attribute("href")
    link.focus()
    world.poll(CARELESS_KEY, careless)  # one more entry: a new verdict, drawn again
    expect(overall).not_to_have_text(before or "", timeout=TIMEOUT_MS)
    page.wait_for_timeout(REFRESHES)
    assert focused_link(page) == ["poll-interval", href]


def test_the_contract_view_asks_for_an_unchanged_verdict_rarely_and_gets_a_bounded_one(
    page: Page, world: Scene
) -> None:
    jobs = 300
    world.admin("PUT", f"wallets/{CARELESS_KEY}", {"balance": "100000"})
    for _ in range(jobs):
        request_id = world.submit(CARELESS_KEY)
        world.poll(CARELESS_KEY, request_id)
        world.poll(CARELESS_KEY, request_id)  # at once: each job breaks poll-interval
    asked: list[tuple[int, int]] = []  # (status, body size) of each verdict answer
    page.on(
        "response",
        lambda r: (
            asked.append((r.status, len(r.body()) if r.status == 200 else 0))
            if r.url.endswith("/_mock/verdict")
            else None
        ),
    )
    open_view(page, world, "contract")
    rule = page.locator('[data-rule="poll-interval"]')
    expect(rule).to_contain_text("broken")
    expect(rule.locator(".violations > li")).to_have_count(20)  # the first 20 of 300
    expect(rule).to_contain_text("and 280 more violations")
    page.wait_for_timeout(6500)  # six of the page's refreshes, nothing moving
    assert asked[0][0] == 200
    assert asked[0][1] < 200_000, asked[0]
    assert len(asked) <= 2, asked  # nothing moved: not asked again every second
    assert all(status == 304 for status, _ in asked[1:]), asked  # unchanged: not sent again
    nodes = page.evaluate("document.querySelectorAll('main *').length")
    assert nodes < 3000, nodes  # bounded whatever the journal holds


def test_wallets_ask_for_a_ledger_only_while_it_is_open(page: Page, world: Scene) -> None:
    keys = [f"wallet-key-{n:04d}" for n in range(20)]
    for key in keys:
        world.admin("PUT", f"wallets/{key}", {"balance": "5"})
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/_mock/wallets" in r.url else None)
    open_view(page, world, "wallets")
    expect(page.locator("#wallets-table tbody tr")).to_have_count(len(keys))
    page.wait_for_timeout(REFRESHES)
    assert not [u for u in asked if "/_mock/wallets/" in u]  # no ledger while all are closed
    assert len(asked) == 1, asked  # nothing moved: the list once
    ledger = page.locator('details.ledger[data-key="****0007"]')
    ledger.locator("summary").click()
    expect(ledger).to_contain_text("(2 movements)")  # opened, then set
    page.wait_for_timeout(REFRESHES)
    ledgers = [u for u in asked if "/_mock/wallets/" in u]
    assert ledgers
    assert all(u.split("?")[0].endswith("wallet-key-0007") for u in ledgers), ledgers
    ledger.locator("summary").click()  # closed again: no more asking
    page.wait_for_timeout(300)
    closed = len([u for u in asked if "/_mock/wallets/" in u])
    page.wait_for_timeout(REFRESHES)
    assert len([u for u in asked if "/_mock/wallets/" in u]) == closed


def test_a_store_that_cannot_take_writes_is_said_until_it_can(page: Page, tmp_path: Path) -> None:
    """Health answers 503 while the state file cannot be written: the page says why at the top,
    keeps what it showed, and carries on by itself once the file can be written again."""
    with scene(state={"backend": "sqlite", "path": str(tmp_path / "state.db")}) as stored:
        request_id = stored.submit(CAREFUL_KEY)
        store = stored.gw.gateway.store
        open_view(page, stored, "jobs")
        row = page.locator(f'#jobs-table tr[data-request-id="{request_id}"]')
        expect(row).to_be_visible()
        stored.gw.run(lambda: sqlite_writable(store, False))
        refused = stored.http.post(
            stored.url + GENERATE_PATH,
            json={
                "image_url": "https://example.com/a.png",
                "audio_url": "https://example.com/a.mp3",
            },
            headers={**DOC_HEADERS, "Ocp-Apim-Subscription-Key": CAREFUL_KEY},
            timeout=30,
        )
        assert refused.status_code == 503, refused.text
        problem = page.locator("#problem")
        expect(problem).to_be_visible()
        expect(problem).to_contain_text("its state store is out of service")
        expect(problem).to_contain_text("readonly database")
        expect(row).to_be_visible()  # what it showed stays
        stored.gw.run(lambda: sqlite_writable(store, True))
        expect(problem).to_be_hidden()
        stored.advance(10)
        expect(row.locator(".status-cell")).to_have_text(re.compile("COMPLETED"))
