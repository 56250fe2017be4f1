"""Vega-Lite specifications for the report's charts: pure functions from query rows to JSON-ready dicts.

Interactive where it helps: tooltips everywhere, a click on a legend entry highlights that series (shift-click adds
more), and time axes zoom with the mouse wheel and pan by dragging (double-click resets).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # an identifier only: vega-embed never fetches it
HEIGHT = 240

Spec = Dict[str, Any]


def _base(rows: Sequence[Dict[str, Any]], title: str) -> Spec:
    return {"$schema": SCHEMA, "title": title, "width": "container", "height": HEIGHT,
            "data": {"values": list(rows)}, "config": {"legend": {"labelLimit": 220}, "axis": {"labelLimit": 220}}}


TIME_UNITS = {"day": "utcyearmonthdate", "week": "utcyearmonthdate", "month": "utcyearmonth"}
TITLES = {"day": "day", "week": "week (from Monday)", "month": "month"}


def _day_axis(grain: str) -> Spec:
    # days are UTC calendar days: a UTC scale keeps a viewer west of Greenwich from seeing the previous day
    return {"field": "day", "type": "temporal", "timeUnit": TIME_UNITS[grain], "title": TITLES[grain],
            "scale": {"type": "utc"}}


def _day_tooltip(grain: str) -> Spec:
    return {"field": "day", "type": "temporal", "timeUnit": TIME_UNITS[grain], "title": TITLES[grain]}


def _legend_params(series: str) -> List[Spec]:
    return [{"name": "pick", "select": {"type": "point", "fields": [series]}, "bind": "legend"},
            {"name": "zoom", "select": {"type": "interval", "encodings": ["x"]}, "bind": "scales"}]


def daily_stacked(rows: Sequence[Dict[str, Any]], series: str, value: str, title: str, grain: str = "day") -> Spec:
    """Bars per day stacked by `series` (language, source, host, topic)."""
    spec = _base(rows, title)
    spec.update({
        "mark": {"type": "bar", "tooltip": True},
        "params": _legend_params(series),
        "encoding": {
            "x": _day_axis(grain),
            "y": {"field": value, "type": "quantitative", "aggregate": "sum", "title": value.replace("_", " ")},
            "color": {"field": series, "type": "nominal", "title": series, "scale": {"scheme": "tableau20"}},
            "opacity": {"condition": {"param": "pick", "value": 1}, "value": 0.15},
            "tooltip": [_day_tooltip(grain),
                        {"field": series, "type": "nominal"}, {"field": value, "type": "quantitative"}],
        },
    })
    return spec


def daily_lines(rows: Sequence[Dict[str, Any]], series: str, value: str, title: str, grain: str = "day") -> Spec:
    spec = _base(rows, title)
    spec.update({
        "mark": {"type": "line", "point": True, "tooltip": True},
        "params": _legend_params(series),
        "encoding": {
            "x": _day_axis(grain),
            "y": {"field": value, "type": "quantitative", "title": value},
            "color": {"field": series, "type": "nominal", "title": series, "scale": {"scheme": "tableau10"}},
            "opacity": {"condition": {"param": "pick", "value": 1}, "value": 0.15},
            "tooltip": [_day_tooltip(grain),
                        {"field": series, "type": "nominal"}, {"field": value, "type": "quantitative"}],
        },
    })
    return spec


def ranked_bars(rows: Sequence[Dict[str, Any]], label: str, value: str, title: str,
                color: Optional[str] = None) -> Spec:
    """Horizontal bars, largest first (reasons, sources, pairs)."""
    spec = _base(rows, title)
    spec["height"] = {"step": 18}
    encoding: Spec = {
        "y": {"field": label, "type": "nominal", "sort": "-x", "title": None},
        "x": {"field": value, "type": "quantitative", "title": value.replace("_", " ")},
        "tooltip": [{"field": label, "type": "nominal"}, {"field": value, "type": "quantitative"}],
    }
    if color:
        encoding["color"] = {"field": color, "type": "nominal", "title": color}
        encoding["tooltip"].insert(1, {"field": color, "type": "nominal"})
    spec.update({"mark": {"type": "bar", "tooltip": True}, "encoding": encoding})
    return spec


def run_bars(rows: Sequence[Dict[str, Any]], value: str, title: str) -> Spec:
    """One bar per run, in start order."""
    spec = _base(rows, title)
    spec.update({
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {"field": "run", "type": "ordinal", "sort": None, "title": "run (oldest first)",
                  "axis": {"labelAngle": -40}},
            "y": {"field": value, "type": "quantitative", "title": value},
            "color": {"field": "status", "type": "nominal",
                      "scale": {"domain": ["succeeded", "failed", "accounting_mismatch", "running"],
                                "range": ["#4c78a8", "#e45756", "#f58518", "#bab0ac"]}},
            "tooltip": [{"field": "run", "type": "nominal"}, {"field": "status", "type": "nominal"},
                        {"field": "started_at", "type": "nominal", "title": "started (UTC)"},
                        {"field": value, "type": "quantitative"}],
        },
    })
    return spec
