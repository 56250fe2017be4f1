"""`newsbeam report`: an output folder at a glance, as one self-contained, offline HTML page.

`queries` computes every number with DuckDB over the Parquet and run manifests; `charts` turns rows into Vega-Lite
specifications; `render` writes the page (Vega's JavaScript inlined, see `bundle`).
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from typing import Optional

from newsbeam.htmlreport.bundle import javascript_bundle
from newsbeam.htmlreport.queries import Filters, collect
from newsbeam.htmlreport.render import render

__all__ = ["Filters", "ReportOutcome", "write_report"]


@dataclass(frozen=True)
class ReportOutcome:
    path: str
    bytes: int
    charts: int
    seconds: float


def write_report(output: str, path: Optional[str] = None, filters: Optional[Filters] = None) -> ReportOutcome:
    """Write the report for the output folder `output` to `path` (default OUT/report.html), atomically."""
    started = time.perf_counter()
    output = os.path.abspath(output)
    path = os.path.abspath(path or os.path.join(output, "report.html"))
    filters = filters or Filters()
    results = collect(output, filters)
    page = render(results, output, filters, javascript_bundle())
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".report-", suffix=".html.tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(page)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return ReportOutcome(path=path, bytes=len(page.encode("utf-8")), charts=page.count('class="chart"'),
                         seconds=time.perf_counter() - started)
