"""The report page: query results -> one self-contained HTML file (charts, tables, the SQL behind them).

Safety: every string from the data reaches the page either through Jinja2's autoescaping (tables, text) or inside
a JSON `<script type="application/json">` block with `<`, `>` and `&` escaped (chart data), which Vega draws as SVG
text. Links are made only from http(s) URLs. A Content-Security-Policy allows just the page's own two scripts (by
hash) and no network request of any kind, so even a rendering bug could neither run injected script nor phone home.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape

from newsbeam.htmlreport import charts
from newsbeam.htmlreport.queries import Filters, Results

APP_JS = """(function () {
  var specs = JSON.parse(document.getElementById('chart-specs').textContent);
  var jobs = Object.keys(specs).map(function (id) {
    var el = document.getElementById(id);
    return vegaEmbed(el, specs[id], {renderer: 'svg', actions: false})
      .then(function () { el.setAttribute('data-rendered', 'yes'); })
      .catch(function (error) {
        el.setAttribute('data-rendered', 'error');
        console.error('chart ' + id + ': ' + error);
      });
  });
  Promise.all(jobs).then(function () { document.body.setAttribute('data-charts', 'done'); });
})();"""


@dataclass
class Table:
    headers: List[str]
    rows: List[List[Any]]  # cells: str, or {"text":…, "href":…} for a link


@dataclass
class Section:
    key: str
    title: str
    intro: str = ""
    stats: List[tuple] = field(default_factory=list)  # (label, value)
    charts: List[str] = field(default_factory=list)  # chart ids
    tables: List[tuple] = field(default_factory=list)  # (caption, Table)
    empty: str = ""  # shown instead of the content when there is nothing to show
    queries: List[tuple] = field(default_factory=list)  # (label, sql)


def safe_href(url: Optional[str]) -> Optional[str]:
    """The URL if it is an absolute http(s) URL, else None: a `javascript:` or `data:` link must never be clickable."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return " · ".join(str(v) for v in value)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _json_rows(rows: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [{k: _json_value(v) for k, v in row.items()} for row in rows]


def script_json(value: Any) -> str:
    """JSON safe to place inside a <script> element: no `</script>`, no comment or CDATA openers."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _table(rows: Sequence[Dict[str, Any]], columns: Sequence[str], links: Optional[Dict[str, str]] = None) -> Table:
    """`links` maps a column to the column holding its URL."""
    links = links or {}
    body = []
    for row in rows:
        cells = []
        for column in columns:
            text = cell(row.get(column))
            href = safe_href(row.get(links[column])) if column in links else None
            cells.append({"text": text, "href": href} if href else text)
        body.append(cells)
    return Table([c.replace("_", " ") for c in columns], body)


def _clip(text: Optional[str], width: int = 60) -> str:
    text = text or ""
    return text if len(text) <= width else text[:width - 1] + "…"


class _Builder:
    def __init__(self, results: Results):
        self.results = results
        self.specs: Dict[str, Dict[str, Any]] = {}
        self.sections: List[Section] = []

    def rows(self, key: str) -> List[Dict[str, Any]]:
        return self.results.rows.get(key, [])

    def chart(self, section: Section, key: str, spec: Dict[str, Any]) -> None:
        if spec["data"]["values"]:
            chart_id = f"chart-{key}"
            spec["data"]["values"] = _json_rows(spec["data"]["values"])
            self.specs[chart_id] = spec
            section.charts.append(chart_id)

    def sql(self, section: Section, *keys: str) -> None:
        for key in keys:
            if key in self.results.queries:
                section.queries.append((key.replace("_", " "), self.results.queries[key].sql))

    def add(self, section: Section) -> Section:
        self.sections.append(section)
        return section

    def overview(self) -> None:
        s = self.add(Section("overview", "At a glance"))
        o = (self.rows("overview") or [{}])[0]
        d = (self.rows("dead_overview") or [{}])[0]
        s.stats = [("articles", cell(o.get("articles", 0))), ("sources", cell(o.get("sources", 0))),
                   ("languages", cell(o.get("languages", 0))),
                   ("days", f"{cell(o.get('first_day')) or '–'} … {cell(o.get('last_day')) or '–'}"),
                   ("dead letters", cell(d.get("dead_letters", 0))), ("runs", cell(len(self.rows("runs"))))]
        if not (self.results.has_articles or self.results.has_dead_letters or self.results.has_runs):
            s.empty = "This output folder holds no articles, no dead letters and no run manifests yet."
        self.sql(s, "overview", "dead_overview", "runs")

    def intake(self) -> None:
        s = self.add(Section("intake", "What came in", "Articles per day (the publication date, or the fetch date "
                                                       "when the article has none), by language and by source."))
        if not self.results.has_articles:
            s.empty = "No articles."
            return
        if self.results.grains.get("articles", "day") != "day":
            s.intro += f" The articles span years, so they are counted by {self.results.grains['articles']}."
        grain = self.results.grains.get("articles", "day")
        self.chart(s, "per_day_language", charts.daily_stacked(self.rows("per_day_language"), "language", "articles",
                                                               f"Articles per {grain} by language", grain))
        self.chart(s, "per_day_source", charts.daily_stacked(self.rows("per_day_source"), "source", "articles",
                                                             f"Articles per {grain} by source", grain))
        s.tables.append(("Languages", _table(self.rows("languages"), ["language", "articles"])))
        s.tables.append(("Top sources", _table(self.rows("sources"), ["source", "articles"])))
        self.sql(s, "per_day_language", "per_day_source", "languages", "sources")

    def entities(self) -> None:
        s = self.add(Section("entities", "Who and where", "The most mentioned linked entities: canonical name, "
                                                         "every spelling seen and the languages they appear in."))
        if not self.rows("entities"):
            s.empty = "No linked entities." if self.results.has_articles else "No articles."
            self.sql(s, "entities")
            return
        self.chart(s, "entity_days", charts.daily_lines(self.rows("entity_days"), "name", "mentions",
                                                        f"Mentions of the top entities per "
                                                        f"{self.results.grains.get('articles', 'day')}",
                                                        self.results.grains.get("articles", "day")))
        s.tables.append(("Top entities", _table(self.rows("entities"), ["name", "entity_id", "mentions", "articles",
                                                                        "languages", "spellings"])))
        self.sql(s, "entities", "entity_days")

    def pairs(self) -> None:
        s = self.add(Section("pairs", "Mentioned together", "Pairs of entities linked in the same articles, "
                                                            "strongest first (articles mentioning both)."))
        rows = self.rows("pairs")
        if not rows:
            s.empty = "No article links two entities." if self.results.has_articles else "No articles."
            self.sql(s, "pairs")
            return
        labelled = [{"pair": f"{_clip(r['name_a'], 30)} + {_clip(r['name_b'], 30)}", "articles": r["articles"]}
                    for r in rows]
        self.chart(s, "pairs", charts.ranked_bars(labelled, "pair", "articles", "Strongest co-mentions"))
        s.tables.append(("Co-mention pairs", _table(rows, ["name_a", "name_b", "articles", "entity_a", "entity_b"])))
        self.sql(s, "pairs")

    def topics(self) -> None:
        s = self.add(Section("topics", "Watchlist topics", "Topic-watchlist hits per day, with the latest "
                                                          "headlines for each topic."))
        if not self.rows("topic_days"):
            s.empty = "No watchlist topic matched." if self.results.has_articles else "No articles."
            self.sql(s, "topic_days")
            return
        self.chart(s, "topic_days", charts.daily_stacked(self.rows("topic_days"), "topic", "articles",
                                                         f"Topic hits per {self.results.grains.get('articles', 'day')}",
                                                         self.results.grains.get("articles", "day")))
        s.tables.append(("Example headlines", _table(self.rows("topic_examples"), ["topic", "day", "title"],
                                                     links={"title": "url"})))
        self.sql(s, "topic_days", "topic_examples")

    def clusters(self) -> None:
        s = self.add(Section("clusters", "Near-duplicate clusters", "The largest syndication groups "
                                                                   "(duplicate_group) and the sources that carried "
                                                                   "them."))
        sizes = self.rows("cluster_sizes")
        grouped = sum(r["groups"] * r["articles_in_group"] for r in sizes if r["articles_in_group"] > 1)
        s.stats = [("groups of 2 or more", cell(sum(r["groups"] for r in sizes if r["articles_in_group"] > 1))),
                   ("articles in them", cell(grouped))]
        if not self.rows("clusters"):
            s.empty = "No near-duplicate groups." if self.results.has_articles else "No articles."
        else:
            s.tables.append(("Largest groups", _table(self.rows("clusters"), [
                "first_title", "articles", "sources", "carried_by", "first_day", "last_day", "duplicate_group"])))
        self.sql(s, "clusters", "cluster_sizes")

    def dates(self) -> None:
        s = self.add(Section("dates", "Date quality", "Where publication dates came from (date_source), how many "
                                                     "articles have none, and dates rejected for lying in the "
                                                     "future (from the runs' dates.* counters)."))
        checks = (self.rows("date_checks") or [{}])[0]
        counters = {r["counter"]: r["total"] for r in self.rows("date_counters")}
        rejected = sum(v or 0 for k, v in counters.items() if "future" in k)
        s.stats = [("undated", cell(checks.get("undated", 0))),
                   ("dated after the fetch", cell(checks.get("dated_after_fetch", 0))),
                   ("future dates rejected", cell(rejected) if counters else "not counted by these runs")]
        if not self.results.has_articles:
            s.empty = "No articles."
        else:
            self.chart(s, "date_sources", charts.ranked_bars(self.rows("date_sources"), "date_source", "articles",
                                                             "Articles by date source"))
            s.tables.append(("Date sources", _table(self.rows("date_sources"), ["date_source", "articles",
                                                                                "percent"])))
            if counters:
                s.tables.append(("Run counters", _table(self.rows("date_counters"), ["counter", "total"])))
        self.sql(s, "date_sources", "date_checks", "date_counters")

    def dead_letters(self) -> None:
        s = self.add(Section("dead", "Dead letters", "What failed, why (stage and reason code) and where "
                                                    "(host), per day of failure."))
        if not self.results.has_dead_letters:
            s.empty = "No dead letters."
            return
        reasons = [dict(r, label=f"{r['stage']} · {r['reason']}") for r in self.rows("dead_reasons")]
        self.chart(s, "dead_reasons", charts.ranked_bars(reasons, "label", "dead_letters",
                                                         "Dead letters by stage and reason", color="stage"))
        grain = self.results.grains.get("dead_letters", "day")
        self.chart(s, "dead_days", charts.daily_stacked(self.rows("dead_days"), "host", "dead_letters",
                                                        f"Dead letters per {grain} by host", grain))
        s.tables.append(("By reason", _table(self.rows("dead_reasons"), ["stage", "reason", "dead_letters"])))
        s.tables.append(("Top hosts", _table(self.rows("dead_hosts"), ["host", "dead_letters", "reasons"])))
        self.sql(s, "dead_reasons", "dead_days", "dead_hosts")

    def runs(self) -> None:
        s = self.add(Section("runs", "Run history", "Every run manifest in _runs/ (not narrowed by the filters)."))
        rows = self.rows("runs")
        if not rows:
            s.empty = "No run manifests."
            return
        labelled = [dict(r, run=r["run_id"], started_at=cell(r["started_at"])) for r in rows]
        self.chart(s, "run_seconds", charts.run_bars(labelled, "seconds", "Duration of each run (s)"))
        self.chart(s, "run_articles", charts.run_bars(labelled, "articles", "Articles written per run"))
        s.tables.append(("Runs", _table(rows, ["run_id", "status", "started_at", "seconds", "articles",
                                               "dead_letters"])))
        self.sql(s, "runs")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render(results: Results, output: str, filters: Filters, bundle: str,
           generated_at: Optional[datetime.datetime] = None) -> str:
    builder = _Builder(results)
    for step in (builder.overview, builder.intake, builder.entities, builder.pairs, builder.topics,
                 builder.clusters, builder.dates, builder.dead_letters, builder.runs):
        step()
    env = Environment(loader=PackageLoader("newsbeam.htmlreport", "templates"), autoescape=select_autoescape(["j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    # Vega compiles its expressions with Function(): hence 'unsafe-eval'; inline styles come from vega-embed
    csp = (f"default-src 'none'; script-src {_sha256(bundle)} {_sha256(APP_JS)} 'unsafe-eval'; "
           "style-src 'unsafe-inline'; img-src data:; font-src data:; connect-src 'none'; form-action 'none'; "
           "base-uri 'none'")
    generated_at = generated_at or datetime.datetime.now(datetime.timezone.utc)
    return env.get_template("report.html.j2").render(
        output=output, filters=filters.describe(), sections=builder.sections, csp=csp, bundle=bundle, app_js=APP_JS,
        specs=script_json(builder.specs), generated_at=generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        notes=list(results.notes.values()))
