"""The "Times in" choice in a real browser (issue 21): Chromium in Asia/Kolkata offers its own
zone, and choosing it puts the page's times on its clock, named (Chromium may call it
Asia/Calcutta)."""
import re

from playwright.sync_api import expect

from .conftest import VIEWPORT
from .streamlit_app import WAIT_MS, assert_no_exception, open_page, screenshot, wait_for_charts

KOLKATA = re.compile(r"Asia/(Kolkata|Calcutta)")


def test_the_browser_zone_names_the_pages_times(browser, open_server):
    context = browser.new_context(viewport=VIEWPORT, timezone_id="Asia/Kolkata", locale="en-US")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    try:
        open_page(page, open_server, "Uploads", window="24h")
        sidebar = page.get_by_test_id("stSidebar")
        choice = sidebar.get_by_text(KOLKATA)
        expect(choice).to_be_visible()
        wait_for_charts(page, at_least=1)
        main = page.get_by_test_id("stMain")
        oldest = re.compile(r"the oldest uploaded .*\((\d{4}-\d\d-\d\d \d\d:\d\d) ([\w/]+)\)")
        expect(main.get_by_text(oldest)).to_contain_text(" UTC)")   # UTC until chosen
        choice.click()
        expect(main.get_by_text(oldest)).to_contain_text(KOLKATA)
        wait_for_charts(page, at_least=1)
        assert_no_exception(page)
        assert "times=local" in page.url
        screenshot(page, "uploads-24h-asia-kolkata")
    finally:
        context.close()
