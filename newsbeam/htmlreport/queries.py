"""The report's numbers: DuckDB queries over an output folder's Parquet and run manifests.

Every query is a complete, self-contained SQL text (paths and filters written in as literals) and the report runs
exactly the text it shows, so an analyst can paste any block into `duckdb` and get the same numbers. DuckDB scans
only the columns a query names and aggregates out of core; nothing is loaded into pandas.
"""
from __future__ import annotations

import datetime
import glob
import logging
import os
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import duckdb

LOG = logging.getLogger(__name__)

TOP_LANGUAGES = 12  # series in the per-day charts; the rest are summed as "(other)"
TOP_SOURCES = 10
TOP_HOSTS = 10
TOP_ENTITIES = 20
ENTITY_LINES = 8  # entities drawn in the daily-mentions chart
TOP_PAIRS = 25
TOP_CLUSTERS = 20
EXAMPLES_PER_TOPIC = 5
OTHER = "(other)"
MAX_DAYS = 400  # longer spans are charted by week, and beyond 7 times that by month

# The article columns the report reads (never `text`): absent ones (older schema versions) disable their sections.
ARTICLE_COLUMNS = ("article_id", "final_url", "source_domain", "title", "published_at", "date_source",
                   "fetched_at", "duplicate_group", "entities", "entity_ids", "topics", "language")


@dataclass(frozen=True)
class Filters:
    """What `newsbeam report --since/--until/--language/--topic/--entity` selects. Dates are inclusive UTC days."""

    since: Optional[datetime.date] = None
    until: Optional[datetime.date] = None
    languages: Tuple[str, ...] = ()
    topics: Tuple[str, ...] = ()
    entities: Tuple[str, ...] = ()  # entity ids (geonames:…) or canonical names, case-insensitive

    def describe(self) -> List[str]:
        parts = []
        if self.since:
            parts.append(f"since {self.since.isoformat()}")
        if self.until:
            parts.append(f"until {self.until.isoformat()}")
        for label, values in (("language", self.languages), ("topic", self.topics), ("entity", self.entities)):
            if values:
                parts.append(f"{label} {' or '.join(values)}")
        return parts


@dataclass(frozen=True)
class Query:
    key: str
    sql: str


@dataclass
class Results:
    """Query texts and their rows (lists of dicts), by key; `notes` say why a section has no query."""

    queries: Dict[str, Query] = field(default_factory=dict)
    rows: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    notes: Dict[str, str] = field(default_factory=dict)
    has_articles: bool = False
    has_dead_letters: bool = False
    has_runs: bool = False
    grains: Dict[str, str] = field(default_factory=dict)  # 'articles'/'dead_letters' -> day, week or month


def sql_literal(value: str) -> str:
    """A DuckDB string literal (standard SQL quoting: backslashes are not escapes)."""
    if "\x00" in value:
        raise ValueError("NUL characters cannot appear in a filter value")
    return "'" + value.replace("'", "''") + "'"


def _list_literal(values: Sequence[str]) -> str:
    return "[" + ", ".join(sql_literal(v) for v in values) + "]"


def _day(column: str) -> str:
    # UTC whatever the session's TimeZone, so the same query gives the same days on every machine
    return f"CAST(timezone('UTC', {column}) AS DATE)"


def _has_files(folder: str, pattern: str) -> bool:
    return os.path.isdir(folder) and any(
        not os.path.basename(p).startswith((".", "_")) for p in glob.iglob(os.path.join(folder, pattern),
                                                                         recursive=True))


def _parquet(folder: str, union_by_name: bool) -> str:
    path = os.path.abspath(folder).replace(os.sep, "/")
    union = ", union_by_name = true" if union_by_name else ""
    return f"read_parquet({sql_literal(path + '/**/*.parquet')}, hive_partitioning = true{union})"


def _plain(name: str) -> str:
    """A name as DuckDB's lower(strip_accents(...)) writes it."""
    return "".join(ch for ch in unicodedata.normalize("NFD", name) if not unicodedata.combining(ch)).lower()


def article_columns(con: duckdb.DuckDBPyConnection, output: str, union_by_name: bool) -> List[str]:
    source = _parquet(os.path.join(output, "articles"), union_by_name)
    present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    return [c for c in ARTICLE_COLUMNS if c in present]


@dataclass(frozen=True)
class Relation:
    """A base relation (`articles`, `dead_letters`, `runs`): a name and the SELECT that defines it."""

    name: str
    select: str

    @property
    def cte(self) -> str:
        return f"{self.name} AS (\n{self.select}\n)"


def _where(conditions: Sequence[str]) -> str:
    return "\n  WHERE " + "\n    AND ".join(conditions) if conditions else ""


def _day_conditions(filters: Filters) -> List[str]:
    conditions = []
    if filters.since:
        conditions.append(f"day >= DATE {sql_literal(filters.since.isoformat())}")
    if filters.until:
        conditions.append(f"day <= DATE {sql_literal(filters.until.isoformat())}")
    return conditions


def articles_relation(output: str, columns: Sequence[str], filters: Filters, union_by_name: bool) -> Relation:
    conditions = _day_conditions(filters)
    if filters.languages:
        conditions.append(f"language IN ({', '.join(sql_literal(v) for v in filters.languages)})")
    if filters.topics:
        conditions.append(f"list_has_any(topics, {_list_literal(filters.topics)})")
    source = _parquet(os.path.join(output, "articles"), union_by_name)
    if filters.entities:
        # A name selects every entity called or spelt so anywhere in the output, whatever the case and accents:
        # '--entity Raqqa' finds 'Ar Raqqah' (GeoNames' name) in every spelling and script, not only 'Raqqa'.
        wanted = _list_literal([_plain(v) for v in filters.entities])
        named = (f"(SELECT coalesce(list(DISTINCT m.entity_id), []) FROM (SELECT unnest(entities) AS m FROM {source})"
                 f" WHERE m.entity_id IS NOT NULL AND (list_contains({wanted}, lower(strip_accents(m.entity_name)))"
                 f" OR list_contains({wanted}, lower(strip_accents(m.text)))))")
        conditions.append(f"(list_has_any(entity_ids, {_list_literal(filters.entities)}) OR "
                          f"list_has_any(entity_ids, {named}))")
    # the day an article belongs to: its publication date, or the fetch date when it has none
    day = _day("coalesce(published_at, fetched_at)") if "published_at" in columns else _day("fetched_at")
    return Relation("articles", f"  SELECT * FROM (\n    SELECT {', '.join(columns)},\n      {day} AS day\n"
                                f"    FROM {source}\n  )"
                                f"{_where(conditions)}")


def dead_letters_relation(output: str, filters: Filters, union_by_name: bool) -> Relation:
    host = r"lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)', 1))"
    return Relation("dead_letters", f"  SELECT * FROM (\n"
                                    f"    SELECT url, stage, reason, http_status, {_day('failed_at')} AS day,\n"
                                    f"      coalesce(nullif({host}, ''), '(not a URL)') AS host\n"
                                    f"    FROM {_parquet(os.path.join(output, 'dead_letters'), union_by_name)}\n  )"
                                    f"{_where(_day_conditions(filters))}")


def runs_relation(output: str) -> Relation:
    pattern = os.path.abspath(os.path.join(output, "_runs")).replace(os.sep, "/") + "/*.json"

    def counter(name: str) -> str:
        return f"coalesce(CAST(json_extract(content, '$.counters.\"{name}\"') AS BIGINT), 0)"

    return Relation("runs", f"  SELECT json_extract_string(content, '$.run_id') AS run_id,\n"
                            f"    json_extract_string(content, '$.status') AS status,\n"
                            f"    CAST(json_extract_string(content, '$.started_at') AS TIMESTAMPTZ) AS started_at,\n"
                            f"    CAST(json_extract(content, '$.seconds') AS DOUBLE) AS seconds,\n"
                            f"    {counter('articles.written')} AS articles,\n"
                            f"    {counter('dead_letters.written')} AS dead_letters,\n"
                            f"    content\n  FROM read_text({sql_literal(pattern)})\n  WHERE json_valid(content)")


def grain_for(first: Optional[datetime.date], last: Optional[datetime.date]) -> str:
    """Days, or weeks or months when the data spans years (old feed items): keeps the charts, and the page, small."""
    span = (last - first).days if first and last else 0
    return "day" if span <= MAX_DAYS else "week" if span <= MAX_DAYS * 7 else "month"


def _period(grain: str) -> str:
    return "day" if grain == "day" else f"CAST(date_trunc('{grain}', day) AS DATE)"


def _span(con: duckdb.DuckDBPyConnection, table: str) -> Tuple[Optional[datetime.date], Optional[datetime.date]]:
    return con.execute(f"SELECT min(day), max(day) FROM {table}").fetchone()


def _with(*ctes: str) -> str:
    """A WITH clause of the non-empty CTEs (the base relation is empty when it was materialized beforehand)."""
    ctes = tuple(c for c in ctes if c)
    return "WITH " + ",\n".join(ctes) + "\n" if ctes else ""


def _top_case(column: str, ranked: str, label: str) -> str:
    return f"CASE WHEN {column} IN (SELECT {column} FROM {ranked}) THEN {column} ELSE '{label}' END"


def article_queries(a: str, columns: Sequence[str], grain: str = "day") -> Dict[str, str]:
    """SQL texts over the `articles` CTE `a`, for the sections whose columns exist."""
    w = _with(a)
    q = {
        "overview": w + "SELECT count(*) AS articles, count(DISTINCT source_domain) AS sources,\n"
                        "  count(DISTINCT language) AS languages, min(day) AS first_day, max(day) AS last_day\n"
                        "FROM articles",
        "languages": w + "SELECT language, count(*) AS articles FROM articles GROUP BY language\n"
                         "ORDER BY articles DESC, language",
        "per_day_language": _with(a, f"ranked AS (\n  SELECT language, count(*) AS n FROM articles GROUP BY language\n"
                                     f"  ORDER BY n DESC, language LIMIT {TOP_LANGUAGES}\n)")
        + f"SELECT {_period(grain)} AS day, {_top_case('language', 'ranked', OTHER)} AS language,\n"
          "  count(*) AS articles\nFROM articles GROUP BY ALL ORDER BY 1, 2",
        "sources": w + f"SELECT coalesce(source_domain, '(none)') AS source, count(*) AS articles FROM articles\n"
                       f"GROUP BY ALL ORDER BY articles DESC, source LIMIT {TOP_SOURCES}",
        "per_day_source": _with(a, "ranked AS (\n  SELECT source_domain, count(*) AS n FROM articles"
                                   f" GROUP BY source_domain\n  ORDER BY n DESC, source_domain LIMIT {TOP_SOURCES}\n)")
        + f"SELECT {_period(grain)} AS day,\n"
          f"  coalesce({_top_case('source_domain', 'ranked', OTHER)}, '(none)') AS source,\n"
          "  count(*) AS articles\nFROM articles GROUP BY ALL ORDER BY 1, 2",
    }
    if "entities" in columns:
        mentions = ("mentions AS (\n  SELECT article_id, language, day, m.entity_id AS entity_id,"
                    " m.entity_name AS entity_name, m.text AS spelling\n"
                    "  FROM (SELECT article_id, language, day, unnest(entities) AS m FROM articles)\n"
                    "  WHERE m.entity_id IS NOT NULL\n)")
        q["entities"] = _with(a, mentions) + (
            "SELECT entity_id, min(entity_name) AS name, count(*) AS mentions,\n"
            "  count(DISTINCT article_id) AS articles,\n"
            "  string_agg(DISTINCT language, ', ' ORDER BY language) AS languages,\n"
            "  list(DISTINCT spelling ORDER BY spelling) AS spellings\n"
            f"FROM mentions GROUP BY entity_id ORDER BY mentions DESC, entity_id LIMIT {TOP_ENTITIES}")
        q["entity_days"] = _with(a, mentions, "top AS (\n  SELECT entity_id FROM mentions GROUP BY entity_id\n"
                                              f"  ORDER BY count(*) DESC, entity_id LIMIT {ENTITY_LINES}\n)") + (
            f"SELECT {_period(grain)} AS day, min(entity_name) AS name, entity_id, count(*) AS mentions\n"
            "FROM mentions WHERE entity_id IN (SELECT entity_id FROM top)\n"
            "GROUP BY ALL ORDER BY 1, 3")
    if "entity_ids" in columns and "entities" in columns:
        q["pairs"] = _with(a, "ids AS (SELECT article_id, unnest(entity_ids) AS entity_id FROM articles)",
                           "names AS (\n  SELECT m.entity_id AS entity_id, min(m.entity_name) AS name\n"
                           "  FROM (SELECT unnest(entities) AS m FROM articles) GROUP BY ALL\n)") + (
            "SELECT x.entity_id AS entity_a, nx.name AS name_a, y.entity_id AS entity_b, ny.name AS name_b,\n"
            "  count(DISTINCT x.article_id) AS articles\n"
            "FROM ids x JOIN ids y ON x.article_id = y.article_id AND x.entity_id < y.entity_id\n"
            "LEFT JOIN names nx ON nx.entity_id = x.entity_id LEFT JOIN names ny ON ny.entity_id = y.entity_id\n"
            f"GROUP BY ALL ORDER BY articles DESC, entity_a, entity_b LIMIT {TOP_PAIRS}")
    if "topics" in columns:
        hits = "hits AS (SELECT *, unnest(topics) AS topic FROM articles)"
        q["topic_days"] = _with(a, hits) + (f"SELECT {_period(grain)} AS day, topic, count(*) AS articles\n"
                                            "FROM hits GROUP BY ALL ORDER BY 1, 2")
        q["topic_examples"] = _with(a, hits) + (
            "SELECT topic, title, final_url AS url, day FROM (\n"
            "  SELECT topic, title, final_url, day, row_number() OVER (\n"
            "    PARTITION BY topic ORDER BY day DESC, article_id) AS rank\n  FROM hits\n)\n"
            f"WHERE rank <= {EXAMPLES_PER_TOPIC} ORDER BY topic, rank")
    if "duplicate_group" in columns:
        q["clusters"] = w + (
            "SELECT duplicate_group, count(*) AS articles, count(DISTINCT source_domain) AS sources,\n"
            "  string_agg(DISTINCT source_domain, ', ' ORDER BY source_domain) AS carried_by,\n"
            "  arg_min(title, fetched_at) AS first_title, min(day) AS first_day, max(day) AS last_day\n"
            "FROM articles GROUP BY duplicate_group HAVING count(*) > 1\n"
            f"ORDER BY articles DESC, duplicate_group LIMIT {TOP_CLUSTERS}")
        q["cluster_sizes"] = w + (
            "SELECT size AS articles_in_group, count(*) AS groups FROM (\n"
            "  SELECT count(*) AS size FROM articles GROUP BY duplicate_group\n) GROUP BY size ORDER BY size")
    if "date_source" in columns:
        q["date_sources"] = w + (
            "SELECT date_source, count(*) AS articles,\n"
            "  round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS percent\n"
            "FROM articles GROUP BY date_source ORDER BY articles DESC, date_source")
        q["date_checks"] = w + (
            "SELECT count(*) AS articles,\n  count(*) FILTER (WHERE published_at IS NULL) AS undated,\n"
            "  count(*) FILTER (WHERE published_at > fetched_at) AS dated_after_fetch\nFROM articles")
    return q


def dead_letter_queries(d: str, grain: str = "day") -> Dict[str, str]:
    w = _with(d)
    return {
        "dead_overview": w + "SELECT count(*) AS dead_letters, count(DISTINCT host) AS hosts FROM dead_letters",
        "dead_reasons": w + ("SELECT stage, reason, count(*) AS dead_letters FROM dead_letters\n"
                             "GROUP BY ALL ORDER BY dead_letters DESC, stage, reason"),
        "dead_hosts": w + ("SELECT host, count(*) AS dead_letters,\n"
                           "  string_agg(DISTINCT reason, ', ' ORDER BY reason) AS reasons\n"
                           f"FROM dead_letters GROUP BY host ORDER BY dead_letters DESC, host LIMIT {TOP_HOSTS}"),
        "dead_days": _with(d, "ranked AS (\n  SELECT host, count(*) AS n FROM dead_letters GROUP BY host\n"
                              f"  ORDER BY n DESC, host LIMIT {TOP_HOSTS}\n)")
        + f"SELECT {_period(grain)} AS day, {_top_case('host', 'ranked', OTHER)} AS host,\n"
          "  count(*) AS dead_letters\nFROM dead_letters GROUP BY ALL ORDER BY 1, 2",
    }


def run_queries(r: str) -> Dict[str, str]:
    return {
        "runs": _with(r) + ("SELECT run_id, status, started_at, seconds, articles, dead_letters FROM runs\n"
                            "ORDER BY started_at, run_id"),
        "date_counters": _with(r) + (
            "SELECT key AS counter, sum(CAST(json_extract(content, '$.counters.\"' || key || '\"') AS BIGINT))"
            " AS total\nFROM runs, unnest(json_keys(content, '$.counters')) AS k(key)\n"
            "WHERE key LIKE 'dates.%'\nGROUP BY key ORDER BY key"),
    }


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> List[Dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def connect(memory_limit: str = "512MB", threads: int = 1,
            temp_directory: Optional[str] = None) -> duckdb.DuckDBPyConnection:
    """One thread: the work is mostly opening many small Parquet files, where a second thread cost 60 % more CPU
    and twice the memory for little gain (benchmarks/RESULTS.md, "report")."""
    config = {"memory_limit": memory_limit, "threads": threads,
              # the report never reads anything but local files: no extension may be fetched
              "autoinstall_known_extensions": False, "autoload_known_extensions": False}
    if temp_directory:
        config["temp_directory"] = temp_directory  # where DuckDB spills beyond memory_limit
    con = duckdb.connect(config=config)
    con.execute("SET enable_progress_bar = false")
    return con


def _materialize(con: duckdb.DuckDBPyConnection, relation: Relation) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {relation.name} AS\n{relation.select}")


def _articles(con: duckdb.DuckDBPyConnection, output: str, filters: Filters) -> Tuple[Relation, List[str]]:
    """Read the articles once. All files normally share one schema; only when they may not (an output holding
    several schema versions) is the slower union_by_name needed (4 times the wall time on 2,553 files). Without
    it DuckDB takes the columns of the first file: a missing column in a later file is an error, but a column
    that only later files have would silently be left out, hence the retry when the first file lacks one."""
    for union_by_name in (False, True):
        columns = article_columns(con, output, union_by_name)
        if not union_by_name and len(columns) < len(ARTICLE_COLUMNS):
            continue
        relation = articles_relation(output, columns, filters, union_by_name)
        try:
            _materialize(con, relation)
            return relation, columns
        except duckdb.Error as error:
            if union_by_name:
                raise
            LOG.info("articles: files differ in schema (%s); reading them by column name", error)
    raise AssertionError("unreachable")


def collect(output: str, filters: Filters, con: Optional[duckdb.DuckDBPyConnection] = None) -> Results:
    """Run every query the output supports.

    The base relations are read from the files once into temporary tables; each query then runs on them, as the
    same text that the page shows minus its base CTE (which defines exactly that table), so a pasted query reads
    the files itself and gives the same rows."""
    con = con or connect()
    results = Results()
    shown: Dict[str, str] = {}
    run: Dict[str, str] = {}
    if _has_files(os.path.join(output, "articles"), "**/*.parquet"):
        results.has_articles = True
        relation, columns = _articles(con, output, filters)
        grain = results.grains["articles"] = grain_for(*_span(con, "articles"))
        shown.update(article_queries(relation.cte, columns, grain))
        run.update(article_queries("", columns, grain))
        missing = [c for c in ("entities", "topics", "duplicate_group") if c not in columns]
        if missing:
            results.notes["schema"] = (f"These articles have no {', '.join(missing)} column(s) (an older schema "
                                       "version): their sections are empty.")
    if _has_files(os.path.join(output, "dead_letters"), "**/*.parquet"):
        results.has_dead_letters = True
        relation = dead_letters_relation(output, filters, union_by_name=True)  # small: never worth a retry
        _materialize(con, relation)
        grain = results.grains["dead_letters"] = grain_for(*_span(con, "dead_letters"))
        shown.update(dead_letter_queries(relation.cte, grain))
        run.update(dead_letter_queries("", grain))
    if _has_files(os.path.join(output, "_runs"), "*.json"):
        results.has_runs = True
        relation = runs_relation(output)
        _materialize(con, relation)
        shown.update(run_queries(relation.cte))
        run.update(run_queries(""))
    for key, sql in shown.items():
        results.queries[key] = Query(key, sql)
        results.rows[key] = _fetch(con, run[key])
    return results
