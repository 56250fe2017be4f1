"""Open a report in headless Chromium (Debian's package) from file:// with networking off, and say what happened."""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from typing import List, Optional

from newsbeam.htmlreport.browser import CHROMIUM, CHROMIUM_ARGS


def chromium_missing_reason() -> Optional[str]:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if shutil.which(CHROMIUM) is None:
        return f"{CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)"
    return None


@dataclass
class PageVisit:
    console_errors: List[str] = field(default_factory=list)
    page_errors: List[str] = field(default_factory=list)
    requests: List[str] = field(default_factory=list)  # every URL the page asked for, beyond the page itself
    charts: dict = field(default_factory=dict)  # chart id -> {"rendered": …, "marks": number of SVG marks}
    texts: List[str] = field(default_factory=list)  # visible text of every table cell
    pwned: bool = False  # any hostile script ran
    title: str = ""
    tooltip: str = ""  # with interact=True: the tooltip shown on hovering the first chart's fourth bar
    faded: int = 0  # with interact=True: bars of the first chart dimmed after clicking its first legend entry


def visit(path: str, screenshot: Optional[str] = None, width: int = 1280, interact: bool = False) -> PageVisit:
    from playwright.sync_api import sync_playwright

    result = PageVisit()
    url = "file://" + path
    with tempfile.TemporaryDirectory(prefix="newsbeam-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, offline=True,
            viewport={"width": width, "height": 900})
        try:
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and result.console_errors.append(m.text))
            page.on("pageerror", lambda e: result.page_errors.append(str(e)))
            page.on("request", lambda r: r.url != url and result.requests.append(r.url))
            # anything beyond the file itself is refused, so a stray request fails instead of reaching a network
            context.route("**/*", lambda route: route.continue_() if route.request.url == url else route.abort())
            page.goto(url, wait_until="load")
            page.wait_for_function("document.body.getAttribute('data-charts') === 'done'", timeout=60_000)
            result.title = page.title()
            result.charts = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.chart')].map(
                el => [el.id, {rendered: el.getAttribute('data-rendered'),
                               marks: el.querySelectorAll('svg .mark-rect path, svg .mark-line path, '
                                                          + 'svg .mark-symbol path').length}]))""")
            result.texts = page.evaluate("() => [...document.querySelectorAll('td')].map(td => td.innerText)")
            result.pwned = page.evaluate("() => window.__pwned === true || document.querySelector('.pwned') !== null")
            if screenshot:
                page.screenshot(path=screenshot, full_page=True)
            if interact:
                bars = page.locator(".chart svg .mark-rect path")
                bars.nth(3).hover()
                page.wait_for_selector("#vg-tooltip-element.visible", timeout=10_000)
                result.tooltip = page.inner_text("#vg-tooltip-element")
                page.locator(".chart svg .role-legend-symbol path").first.click()
                page.wait_for_timeout(300)
                result.faded = page.evaluate("""() => [...document.querySelector('.chart')
                    .querySelectorAll('svg .mark-rect path')]
                    .filter(p => p.getAttribute('opacity') === '0.15').length""")
        finally:
            context.close()
    return result
