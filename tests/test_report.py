"""`newsbeam report`: the DuckDB numbers against ground truth, the page's safety, and the page in headless Chromium."""
from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from collections import Counter
from itertools import combinations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.report_corpus import LANGUAGES_100, Corpus, generate_articles, generate_dead_letters, write_output
from newsbeam.htmlreport import write_report
from newsbeam.htmlreport.queries import Filters, collect, connect, grain_for, sql_literal
from newsbeam.htmlreport.render import render, safe_href, script_json
from newsbeam.schemas.datasets import ARTICLES_SCHEMA
from newsbeam.pipelines.cli import main
from tests.browser import chromium_missing_reason, visit

NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli"]
HOSTILE = ['<script>window.__pwned = true</script>', '"><img src=x onerror="window.__pwned = true">',
           "O'Brien \"quoted\" & <b>bold</b>", '</script><script>window.__pwned = true</script>',
           "<svg onload=\"window.__pwned = true\"></svg>", "{{ 7*7 }} ${7*7} \u2028 line"]
browser = pytest.mark.skipif(chromium_missing_reason() is not None, reason=chromium_missing_reason() or "")


@pytest.fixture(scope="session")
def corpus_output(tmp_path_factory):
    out = tmp_path_factory.mktemp("report-corpus")
    corpus = write_output(str(out), Corpus(articles=600, dead_letters=120, runs=4))
    return out, corpus


@pytest.fixture(scope="session")
def corpus_results(corpus_output):
    out, _ = corpus_output
    return collect(str(out), Filters())


def _assert_clean_visit(page_visit):
    assert page_visit.console_errors == [] and page_visit.page_errors == []
    assert page_visit.requests == []  # nothing but the file itself: no CDN, no network, no stray image
    assert not page_visit.pwned
    for chart_id, chart in page_visit.charts.items():
        assert chart["rendered"] == "yes" and chart["marks"] > 0, chart_id


# -- the numbers -------------------------------------------------------------------------------------------------

def test_numbers_match_the_generated_data(corpus_output, corpus_results):
    _, corpus = corpus_output
    articles = generate_articles(corpus)
    rows = corpus_results.rows
    assert rows["overview"][0]["articles"] == len(articles)
    assert {r["language"]: r["articles"] for r in rows["languages"]} == Counter(a["language"] for a in articles)

    mentions = Counter(m["entity_id"] for a in articles for m in a["entities"])
    top = rows["entities"][0]
    assert top["mentions"] == max(mentions.values()) == mentions[top["entity_id"]]
    spelled = {m["text"] for a in articles for m in a["entities"] if m["entity_id"] == top["entity_id"]}
    assert top["spellings"] == sorted(spelled)  # every spelling seen

    pairs = Counter(p for a in articles for p in combinations(a["entity_ids"], 2))
    assert [(r["entity_a"], r["entity_b"], r["articles"]) for r in rows["pairs"][:5]] == \
        sorted(((a, b, n) for (a, b), n in pairs.items()), key=lambda t: (-t[2], t[0], t[1]))[:5]

    groups = Counter(a["duplicate_group"] for a in articles)
    assert rows["clusters"][0]["articles"] == max(groups.values())
    assert sum(r["groups"] for r in rows["cluster_sizes"]) == len(groups)

    assert rows["date_checks"][0]["undated"] == sum(a["published_at"] is None for a in articles)
    assert {r["date_source"] for r in rows["date_sources"]} == {"html", "feed", "none"}
    assert sum(r["total"] for r in rows["date_counters"]) == sum(range(corpus.runs))  # dates.rejected_future

    dead = generate_dead_letters(corpus)
    assert {(r["stage"], r["reason"]): r["dead_letters"] for r in rows["dead_reasons"]} == \
        Counter((d["stage"], d["reason"]) for d in dead)
    assert [r["run_id"] for r in rows["runs"]] == [f"run-{n}" for n in range(corpus.runs)]


def test_every_shown_query_reproduces_its_rows_on_its_own(corpus_output, corpus_results):
    """The page's promise: paste a block into a fresh DuckDB and get the same numbers."""
    fresh = duckdb.connect()
    for key, query in corpus_results.queries.items():
        cursor = fresh.execute(query.sql)
        names = [d[0] for d in cursor.description]
        assert [dict(zip(names, r, strict=True)) for r in cursor.fetchall()] == corpus_results.rows[key], key


def test_filters_narrow_the_articles(corpus_output):
    out, corpus = corpus_output
    articles = generate_articles(corpus)
    since, until = datetime.date(2026, 10, 5), datetime.date(2026, 10, 20)
    entity = articles[0]["entities"][0]
    filters = Filters(since=since, until=until, languages=("en", "fr"), topics=("attacks", "detention"),
                      entities=(entity["entity_name"].upper(), "geonames:none"))

    def day(a):
        return (a["published_at"] or a["fetched_at"]).date()

    expected = [a for a in articles if since <= day(a) <= until and a["language"] in ("en", "fr")
                and {"attacks", "detention"} & set(a["topics"]) and entity["entity_id"] in a["entity_ids"]]
    assert expected, "the filter should select something"
    assert collect(str(out), filters).rows["overview"][0]["articles"] == len(expected)


def test_an_entity_filter_by_name_matches_any_spelling_seen_whatever_the_accents(corpus_output):
    # an analyst types the spelling they know ('Raqqa', 'Hassake'), not GeoNames' name ('Ar Raqqah', 'Al Ḩasakah')
    out, corpus = corpus_output
    articles = generate_articles(corpus)
    spelling = next(m for a in articles for m in a["entities"] if m["entity_id"] and m["text"] != m["entity_name"])
    ids = {m["entity_id"] for a in articles for m in a["entities"] if m["text"] == spelling["text"] and m["entity_id"]}
    expected = [a for a in articles if ids & set(a["entity_ids"])]
    typed = spelling["text"].swapcase().replace("E", "\u00c9").replace("e", "\u00e9")  # case, accents
    assert expected and ids == {spelling["entity_id"]}
    assert collect(str(out), Filters(entities=(typed,))).rows["overview"][0]["articles"] == len(expected)


def _write_v1_articles(out, ingest_date, count=5):
    """Schema version 1 files (no duplicate_group, entities, entity_ids, topics) beside version 2 ones."""
    v1 = pa.schema([f for f in ARTICLES_SCHEMA if f.name not in ("duplicate_group", "entities", "entity_ids",
                                                                   "topics")])
    rows = [{k: v for k, v in r.items() if k in v1.names} | {"schema_version": 1}
            for r in generate_articles(Corpus(articles=count, seed=99))]
    folder = out / "articles" / f"ingest_date={ingest_date}" / "language=en"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=v1), folder / "part-v1.parquet")


@pytest.mark.parametrize("v1_date", ["2000-01-01", "2099-01-01"])  # the old files sort first, or last
def test_outputs_mixing_schema_versions(tmp_path, v1_date):
    write_output(str(tmp_path), Corpus(articles=40, dead_letters=0, runs=0, text_words=5))
    _write_v1_articles(tmp_path, v1_date)
    results = collect(str(tmp_path), Filters())
    assert results.rows["overview"][0]["articles"] == 45
    assert results.rows["entities"] and not results.notes  # the version 2 columns are not lost


def test_schema_version_1_only(tmp_path):
    _write_v1_articles(tmp_path, "2026-10-01")
    results = collect(str(tmp_path), Filters())
    assert results.rows["overview"][0]["articles"] == 5 and "entities" not in results.rows
    assert "older schema version" in results.notes["schema"]
    assert "older schema version" in render(results, str(tmp_path), Filters(), bundle="")


@settings(max_examples=60, deadline=None)
# Parquet strings are UTF-8: lone surrogates (category Cs) cannot occur in the data, and DuckDB refuses them
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40))
def test_sql_literal_round_trips_any_text(value):
    # fetchall: a result left half-read on DuckDB's shared default connection breaks the next test that uses it
    assert duckdb.execute(f"SELECT {sql_literal(value)} AS v").fetchall() == [(value,)]


def test_sql_literal_refuses_nul():
    with pytest.raises(ValueError):
        sql_literal("a\x00b")


@settings(max_examples=40, deadline=None)
@given(st.recursive(st.none() | st.text(max_size=20) | st.integers(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=4), max_leaves=8))
def test_script_json_cannot_close_its_script_element(value):
    text = script_json(value)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == value


@pytest.mark.parametrize("url, href", [
    ("https://example.com/a?b=1", "https://example.com/a?b=1"), ("HTTP://example.com/", "HTTP://example.com/"),
    ("javascript:alert(1)", None), (" JavaScript:alert(1)", None), ("data:text/html,<b>x</b>", None),
    ("//example.com/x", None), ("file:///etc/passwd", None), ("", None), (None, None), ("http://[::1", None)])
def test_only_http_urls_become_links(url, href):
    assert safe_href(url) == href


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.text(max_size=30), st.builds(lambda scheme, rest: f"{scheme}:{rest}", st.sampled_from(
    ["javascript", "JAVASCRIPT", " javascript", "data", "vbscript", "http", "https", "file"]), st.text(max_size=20))))
def test_no_link_but_to_http(url):
    href = safe_href(url)
    assert href is None or re.match(r"(?i)https?://[^/]", href)


# -- the page ----------------------------------------------------------------------------------------------------

@browser
def test_report_renders_offline_in_chromium(corpus_output, tmp_path):
    out, _ = corpus_output
    page = tmp_path / "report.html"
    outcome = write_report(str(out), str(page))
    assert outcome.bytes < 10_000_000
    html = page.read_text(encoding="utf-8")
    # nothing to fetch, not even a font or a stylesheet (article links are fine: they are only followed on a click)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)  # the scripts are checked in the browser
    assert not re.search(r"""src=|<link[^>]+href|@import|url\(""", markup)
    shot = tmp_path / "report.png"
    page_visit = visit(str(page), screenshot=str(shot), interact=True)
    _assert_clean_visit(page_visit)
    assert "articles" in page_visit.tooltip and "language" in page_visit.tooltip  # hover shows the values
    assert page_visit.faded > 0  # a click on a legend entry dims the other series
    assert len(page_visit.charts) == outcome.charts == 10
    assert shot.stat().st_size > 50_000  # a drawn page, not a blank one
    assert "newsbeam report" in page_visit.title


@browser
def test_hostile_titles_and_entity_names_stay_text(tmp_path):
    out = tmp_path / "out"
    write_output(str(out), Corpus(articles=60, dead_letters=5, runs=1, titles=HOSTILE, entity_names=HOSTILE,
                                  entities=len(HOSTILE)))
    outcome = write_report(str(out))
    page_visit = visit(outcome.path)
    _assert_clean_visit(page_visit)  # above all: window.__pwned stays unset and no <img src=x> is requested
    cells = "\n".join(page_visit.texts)
    for hostile in HOSTILE[:5]:
        assert hostile in cells  # shown literally, as text
    assert "{{ 7*7 }}" in cells  # data is never evaluated as a template


@browser
def test_empty_output(tmp_path):
    (tmp_path / "out").mkdir()
    outcome = write_report(str(tmp_path / "out"))
    assert outcome.charts == 0
    page_visit = visit(outcome.path)
    _assert_clean_visit(page_visit)
    html = open(outcome.path, encoding="utf-8").read()
    assert "no articles, no dead letters and no run manifests" in html


@browser
def test_output_with_only_dead_letters(tmp_path):
    out = tmp_path / "out"
    write_output(str(out), Corpus(articles=0, dead_letters=40, runs=0))
    outcome = write_report(str(out))
    page_visit = visit(outcome.path)
    _assert_clean_visit(page_visit)
    assert sorted(page_visit.charts) == ["chart-dead_days", "chart-dead_reasons"]


@browser
def test_a_hundred_languages_over_ten_years(tmp_path):
    out = tmp_path / "out"
    write_output(str(out), Corpus(articles=300, dead_letters=10, runs=2, languages=LANGUAGES_100, days=3650,
                                  text_words=20))
    outcome = write_report(str(out))
    assert outcome.bytes < 2_000_000  # charted by month: the page stays small
    page_visit = visit(outcome.path)
    _assert_clean_visit(page_visit)
    assert len(LANGUAGES_100) == 100 and set(LANGUAGES_100) <= set(page_visit.texts)  # all listed
    assert "Articles per month by language" in open(outcome.path, encoding="utf-8").read()


@pytest.mark.parametrize("days, grain", [(0, "day"), (400, "day"), (401, "week"), (2800, "week"), (2801, "month")])
def test_long_spans_are_counted_by_week_or_month(days, grain):
    first = datetime.date(2020, 1, 1)
    assert grain_for(first, first + datetime.timedelta(days=days)) == grain
    assert grain_for(None, None) == "day"


# -- the command -------------------------------------------------------------------------------------------------

def test_report_command(corpus_output, tmp_path):
    out, _ = corpus_output
    page = tmp_path / "r.html"
    done = subprocess.run([*NEWSBEAM, "report", str(out), "-o", str(page), "--language", "en,fr",
                           "--since", "2026-10-03", "--entity", "nobody"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # Beam's import-time 'apitools not found' warning reached every cron log
    assert f"report: {page}" in done.stdout and page.stat().st_size > 0
    assert "Filtered: since 2026-10-03; language en or fr; entity nobody" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("args", [["missing"], ["plain"], ["OUT", "--since", "2026-02-30"],
                                  ["OUT", "-o", "afile/report.html"],  # unwritable: was a traceback, exit 1
                                  ["OUT", "--since", "2026-10-05", "--until", "2026-10-01"], ["OUT", "--runner", "x"]])
def test_report_command_refuses_bad_arguments(corpus_output, tmp_path, capsys, args):
    out, _ = corpus_output
    (tmp_path / "plain").mkdir()  # a folder, but not newsbeam's: a mistyped path got an empty report.html, exit 0
    (tmp_path / "afile").write_text("")
    argv = ["report", *[str(out) if a == "OUT" else str(tmp_path / a)
                        if a.split("/")[0] in ("missing", "plain", "afile") else a for a in args]]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and "error" in err.splitlines()[-1] and "Traceback" not in err, err
    assert not (tmp_path / "plain" / "report.html").exists()


def test_duckdb_never_fetches_extensions():
    con = connect()
    assert con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()[0] is False
