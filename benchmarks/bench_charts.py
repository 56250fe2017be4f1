"""Choose the report's charting library by measurement: page size and render time in headless Chromium.

Builds the same ten stacked-bar charts (90 days x 12 series) with Plotly (plotly.js inlined) and with Vega-Lite
(vl-convert-python's offline bundle of Vega, Vega-Lite and vega-embed), loads each page from file:// with
networking disabled and times until every chart has drawn.

    .venv/bin/python benchmarks/bench_charts.py
"""
from __future__ import annotations

import json
import os
import statistics
import tempfile
import time

CHARTS, DAYS, SERIES = 10, 90, 12


def _rows():
    return [{"day": f"2026-{1 + d // 28:02d}-{1 + d % 28:02d}", "series": f"s{s}", "n": (d * 7 + s * 13) % 50}
            for d in range(DAYS) for s in range(SERIES)]


def plotly_page(rows) -> str:
    from plotly.offline import get_plotlyjs

    divs, calls = [], []
    for i in range(CHARTS):
        traces = [{"type": "bar", "name": f"s{s}", "x": [r["day"] for r in rows if r["series"] == f"s{s}"],
                   "y": [r["n"] for r in rows if r["series"] == f"s{s}"]} for s in range(SERIES)]
        divs.append(f'<div id="c{i}" style="height:320px"></div>')
        calls.append(f"Plotly.newPlot('c{i}', {json.dumps(traces)}, {{barmode: 'stack'}})")
    return (f"<!doctype html><meta charset=utf-8><script>{get_plotlyjs()}</script>{''.join(divs)}"
            f"<script>Promise.all([{','.join(calls)}]).then(() => {{ window.done = performance.now(); }});</script>")


def vega_page(rows) -> str:
    import vl_convert

    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "width": 700, "height": 260,
            "data": {"values": rows}, "mark": "bar",
            "encoding": {"x": {"field": "day", "type": "temporal"}, "y": {"field": "n", "type": "quantitative"},
                         "color": {"field": "series"}, "tooltip": [{"field": "series"}, {"field": "n"}]}}
    divs = "".join(f'<div id="c{i}"></div>' for i in range(CHARTS))
    calls = ",".join(f"vegaEmbed('#c{i}', {json.dumps(spec)}, {{renderer: 'svg', actions: false}})"
                     for i in range(CHARTS))
    return (f"<!doctype html><meta charset=utf-8><script>{vl_convert.javascript_bundle()}</script>{divs}"
            f"<script>Promise.all([{calls}]).then(() => {{ window.done = performance.now(); }});</script>")


def render_ms(path: str, runs: int = 5) -> float:
    from playwright.sync_api import sync_playwright

    from newsbeam.htmlreport.browser import CHROMIUM, CHROMIUM_ARGS

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs):
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.goto("file://" + path)
            page.wait_for_function("window.done !== undefined", timeout=60_000)
            times.append(page.evaluate("window.done"))
            context.close()
        browser.close()
    return statistics.median(times)


def main() -> None:
    rows = _rows()
    with tempfile.TemporaryDirectory() as folder:
        for name, build in (("plotly", plotly_page), ("vega-lite", vega_page)):
            path = os.path.join(folder, f"{name}.html")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(build(rows))
            started = time.perf_counter()
            ms = render_ms(path)
            print(f"{name:10s} page {os.path.getsize(path) / 1e6:5.2f} MB  load+render {ms:6.0f} ms (median of 5)"
                  f"  [{time.perf_counter() - started:.1f} s wall]")


if __name__ == "__main__":
    main()
