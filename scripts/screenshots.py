"""Make the README's pictures of the dashboard from a real run: a gateway on loopback with a
manual clock, a careful client, a careless one that polls every second, a few more jobs, and the
page in Debian's Chromium. Writes dashboard-jobs.png and dashboard-job.png into a directory."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.browser_support import CAREFUL_KEY, TIMEOUT_MS, scene, system_browser  # noqa: E402


def main(out: Path) -> int:
    chromium = system_browser("chromium", "chromium-browser")
    if chromium is None:
        print("scripts/screenshots needs Chromium: apt-get install chromium", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    with scene() as world, sync_playwright() as driver:
        world.careful_client()
        failed = world.submit("mock-failed")
        receiver = f"{world.url}/_mock/health"  # answers a POST with 405: the retries show
        careless = world.submit("careless-client-0002", **{"X-Webhook-URL": receiver})
        for _ in range(7):
            world.poll("careless-client-0002", careless)
            world.advance(1)
        world.gw.settle()
        world.admin("POST", f"jobs/{world.submit(CAREFUL_KEY)}/error")
        world.advance(1)
        world.submit("team-key-0003")
        world.advance(0.5)
        world.submit("team-key-0003")
        world.gw.settle()
        assert world.admin("GET", f"jobs/{failed}")["status"] == "FAILED"
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 620})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{world.page_url}#jobs")
            expect(page.locator("#jobs-table tbody tr")).to_have_count(6)
            page.screenshot(path=out / "dashboard-jobs.png")
            page.set_viewport_size({"width": 1280, "height": 1400})
            page.goto(f"{world.page_url}#job/{careless}")
            expect(page.locator("#webhooks-table tbody tr")).to_have_count(3)
            page.evaluate("document.activeElement.blur()")
            top = page.locator("#job-heading").bounding_box()
            bottom = page.locator("#webhooks-table").bounding_box()
            assert top is not None
            assert bottom is not None
            height = bottom["y"] + bottom["height"] - top["y"] + 60
            clip = {"x": 0, "y": top["y"] - 40, "width": 1280, "height": height}
            page.screenshot(path=out / "dashboard-job.png", clip=clip, full_page=True)
        finally:
            browser.close()
    for name in ("dashboard-jobs.png", "dashboard-job.png"):
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"))
