"""Publication dates: the publisher's day and offset are kept, offset-less dates are read, a date never lies after
the fetch, and `date_source` says where it came from."""
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trafilatura.utils import load_html

from newsbeam.dates import find_publication_date, parse_moment
from newsbeam.extraction import ExtractionSettings, extract_page

FETCHED = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
BODY = "<p>" + "The council met on Tuesday evening and agreed the budget after a long debate. " * 8 + "</p>"


def html(head="", body=BODY):
    return f"<html><head><title>Budget</title>{head}</head><body><article><h1>Budget</h1>{body}</article></body></html>"


def found(head="", body=BODY, url="http://example.org/news/budget", fetched=FETCHED):
    return extract_page(html(head, body), url, ExtractionSettings(timeout=0), fetched)


def test_the_publishers_day_and_offset_are_kept():
    page = found('<meta property="article:published_time" content="2020-08-15T20:53:00-04:00">')
    assert page.published_at == datetime(2020, 8, 16, 0, 53, tzinfo=timezone.utc)  # UTC moves to the 16th
    assert page.published_local_date == date(2020, 8, 15)  # the publisher's day stays the 15th
    assert page.published_utc_offset_minutes == -240
    assert page.date_source == "html:meta"


def test_json_ld_date_published_wins_and_says_so():
    ld = ('<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [{"@type": "WebSite", '
          '"datePublished": "2001-01-01"}, {"@type": "NewsArticle", "datePublished": "2023-03-04T09:15:00+09:00", '
          '"dateModified": "2023-05-01T00:00:00+09:00"}]}</script>')
    page = found(ld + '<meta property="article:published_time" content="2023-03-05T00:00:00Z">')
    assert page.published_local_date == date(2023, 3, 4) and page.published_utc_offset_minutes == 540
    assert page.published_at == datetime(2023, 3, 4, 0, 15, tzinfo=timezone.utc)
    assert page.date_source == "html:json-ld"


def test_dates_without_offset_are_read_not_dropped():
    page = found('<meta name="date" content="2020-07-05">')
    assert page.published_at == datetime(2020, 7, 5, tzinfo=timezone.utc)
    assert page.published_local_date == date(2020, 7, 5) and page.published_utc_offset_minutes is None


def test_a_date_in_the_text_or_the_url_is_labelled_so():
    in_text = found(body=BODY + "<p class='date'>Published on 12 March 2019</p>", url="http://example.org/a")
    assert in_text.published_local_date == date(2019, 3, 12) and in_text.date_source == "html:text"
    in_url = found(url="http://example.org/2018/06/21/budget.html")
    assert in_url.published_local_date == date(2018, 6, 21) and in_url.date_source == "url"


def test_no_date_is_none():
    page = found(url="http://example.org/a")
    assert page.published_at is None and page.date_source == "none" and page.published_local_date is None


@pytest.mark.parametrize("head", [
    '<meta property="article:published_time" content="2026-11-21T13:00:00Z">',  # an hour after the fetch
    '<meta property="article:published_time" content="2026-12-24T00:00:00+02:00">',
    '<script type="application/ld+json">{"@type": "Article", "datePublished": "2027-01-01"}</script>',
])
def test_never_a_date_after_the_fetch(head):
    page = found(head, url="http://example.org/a")
    assert page.published_at is None or page.published_at <= FETCHED


def test_a_wall_clock_time_ahead_of_utc_keeps_its_day_not_its_hour():
    # 18:00 in Tokyo is 09:00 UTC: fetched at 12:00 UTC, the day is right, the hour cannot be placed
    page = found('<meta property="article:published_time" content="2026-11-21T18:00:00">', url="http://example.org/a")
    assert page.published_local_date == date(2026, 11, 21)
    assert page.published_at <= FETCHED


def test_the_date_survives_an_empty_page_as_detail():
    from newsbeam.extraction import EmptyText

    with pytest.raises(EmptyText, match="published 2020-07-05"):
        found('<meta name="date" content="2020-07-05">', body="<p>Subscribe.</p>")


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(1995, 1, 2), max_value=datetime(2030, 1, 1)),
       st.integers(min_value=-12 * 60, max_value=14 * 60), st.sampled_from(["T", " "]), st.booleans())
def test_parse_moment_reads_iso_timestamps(moment, minutes, separator, colon):
    moment = moment.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=minutes)))
    sign, magnitude = ("-" if minutes < 0 else "+"), abs(minutes)
    zone = f"{sign}{magnitude // 60:02d}{':' if colon else ''}{magnitude % 60:02d}"
    text = moment.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + zone
    assert parse_moment(text) == moment and parse_moment(text).utcoffset() == moment.utcoffset()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_parse_moment_never_raises(value):
    result = parse_moment(value)
    assert result is None or isinstance(result, datetime)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="0123456789-:TZ+ ", max_size=30))
def test_found_dates_are_never_after_the_fetch(value):
    tree = load_html(html(f'<meta property="article:published_time" content="{value}">'))
    result = find_publication_date(tree, None, None, FETCHED)
    assert result is None or (result.published_at <= FETCHED and result.source == "html:meta")


def test_json_ld_wrapped_in_cdata_is_read():
    ld = ('<script type="application/ld+json">\n<![CDATA[\n{"@context": "http://schema.org", "@type": "NewsArticle", '
          '"datePublished": "2015-10-15T02:19:15.607Z"}\n]]>\n</script>')
    page = found(ld + '<meta property="article:published_time" content="2015-12-11T14:28:34Z">')
    assert page.published_local_date == date(2015, 10, 15) and page.date_source == "html:json-ld"


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["@type", "@graph", "datePublished", "articleBody", "mainEntity", "x"]),
                        inner, max_size=4), max_leaves=12))
def test_any_json_ld_is_read_without_raising(data):
    import json

    from newsbeam.jsonld import article_objects

    script = json.dumps(data).replace("<", "\\u003c")
    tree = load_html(html(f'<script type="application/ld+json">{script}</script>'))
    assert all(isinstance(node, dict) for node in article_objects(tree))
    find_publication_date(tree, None, None, FETCHED)


def test_a_feed_date_is_never_after_the_fetch_either():
    from newsbeam.article import extract_article
    from newsbeam.schemas.records import FeedItem, FetchedPage, FetchRequest

    def article(feed_date):
        item = FeedItem(url="http://example.org/a", canonical_url="http://example.org/a", published_at=feed_date)
        page = FetchedPage(request=FetchRequest(url=item.url, context=item), final_url=item.url, status=200,
                           content_type="text/html", header_charset="utf-8", body=html().encode(),
                           fetched_at=FETCHED, attempts=1)
        return extract_article(page, ExtractionSettings(timeout=0))

    clock_skew = article(FETCHED + timedelta(minutes=20))  # the publisher's clock runs a little ahead
    assert clock_skew.published_at == FETCHED and clock_skew.date_source == "feed"
    assert clock_skew.published_local_date == FETCHED.date() and clock_skew.published_utc_offset_minutes is None
    future = article(FETCHED + timedelta(days=2))
    assert future.published_at is None and future.date_source == "none"


def _ld(value):
    return f'<script type="application/ld+json">{{"@type": "NewsArticle", "datePublished": "{value}"}}</script>'


def test_a_utc_timestamp_takes_the_publishers_day_from_the_url():
    # a New York evening story: the CMS states UTC, the URL (fixed at publication) the local day
    page = found(_ld("2023-11-09T03:28:35Z"), url="https://example.com/2023/11/08/news/story/")
    assert page.published_local_date == date(2023, 11, 8) and page.date_source == "url"
    assert page.published_at == datetime(2023, 11, 9, 3, 28, 35, tzinfo=timezone.utc)  # the instant is kept
    assert page.published_utc_offset_minutes is None  # which zone made it the 8th is not known


def test_a_utc_timestamp_takes_the_local_wall_clock_of_a_meta_tag():
    page = found(_ld("2023-11-09T06:35:29Z") + '<meta name="date" content="2023-11-08T22:35:29">',
                 url="https://example.com/news/story")
    assert page.published_local_date == date(2023, 11, 8)
    assert page.published_at == datetime(2023, 11, 9, 6, 35, 29, tzinfo=timezone.utc)


@pytest.mark.parametrize("stated, url, day", [
    ("2023-11-09T10:00:00+01:00", "https://example.com/2023/11/08/story/", date(2023, 11, 9)),  # the page says
    ("2023-11-09T12:00:00Z", "https://example.com/2023/10/01/story/", date(2023, 11, 9)),  # no zone makes it so
    ("2023-11-09T12:00:00Z", "https://example.com/2023/11/09/story/", date(2023, 11, 9)),
])
def test_a_day_the_page_states_is_kept(stated, url, day):
    assert found(_ld(stated), url=url).published_local_date == day


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 11, 1)),
       st.integers(min_value=-3, max_value=3))
def test_a_utc_timestamp_keeps_its_instant_whatever_the_url_says(moment, shift):
    moment = moment.replace(microsecond=0, tzinfo=timezone.utc)
    day = moment.date() + timedelta(days=shift)
    url = f"https://example.com/{day:%Y/%m/%d}/story/"
    tree = load_html(html(_ld(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))))
    result = find_publication_date(tree, url, f"{day.isoformat()}T00:00:00", FETCHED)
    assert result.published_at == moment
    # the URL's day only where that instant falls on it somewhere on Earth (UTC-12 to UTC+14)
    on_that_day = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - timedelta(hours=14) <= moment \
        < datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(hours=36)
    assert result.local_date == (day if on_that_day else moment.date())


@pytest.mark.parametrize("local", [
    '<meta property="article:published_time" content="2023-11-08T22:35:29-08:00">',  # same instant, with offset
    '<meta property="article:published_time" content="2023-11-08T22:35:29">',  # local wall clock, no offset
])
def test_a_utc_json_ld_date_takes_the_publishers_clock_when_the_page_states_it(local):
    # CMSs that write JSON-LD in UTC: an evening article on the US west coast is the next day in UTC
    page = found(_ld("2023-11-09T06:35:29Z") + local)
    assert page.published_local_date == date(2023, 11, 8)
    assert page.published_utc_offset_minutes == -480
    assert page.published_at == datetime(2023, 11, 9, 6, 35, 29, tzinfo=timezone.utc)  # the instant is unchanged
    assert page.date_source == "html:json-ld"


@pytest.mark.parametrize("other, day, offset", [
    # a bare day is no local time of the same moment: no offset is inferred, but the instant falls on the 8th in
    # the Americas, and htmldate's day (the meta tag's) is the 8th: the publisher's day
    ('<meta property="article:published_time" content="2023-11-08T00:00:00">', date(2023, 11, 8), None),
    # 32 hours apart: another moment, the UTC statement stands
    ('<meta property="article:published_time" content="2023-11-07T22:35:29">', date(2023, 11, 9), 0),
    # not whole quarter hours apart: no offset inferred; the day as for the bare day
    ('<meta property="article:published_time" content="2023-11-08T22:35:17">', date(2023, 11, 8), None),
])
def test_without_a_matching_local_statement_no_offset_is_inferred(other, day, offset):
    page = found(_ld("2023-11-09T06:35:29Z") + other)
    assert page.published_local_date == day and page.published_utc_offset_minutes == offset
    assert page.published_at == datetime(2023, 11, 9, 6, 35, 29, tzinfo=timezone.utc)


# A page states two days (a first publication and a modification, or JSON-LD and meta tags that disagree) and shows
# its readers only one of them, by its headline: a republished or rewritten page; the day it shows is its date.
_REPUBLISHED_LD = ('<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": '
                   '"2019-06-17T10:00:00+02:00", "dateModified": "2020-06-04T16:41:46+02:00"}</script>')


def test_the_day_a_page_shows_by_its_headline_beats_a_first_publication_it_hides():
    page = found(_REPUBLISHED_LD, body="<p class='byline'>Von A. Autor | 04.06.2020</p>" + BODY)
    assert page.published_local_date == date(2020, 6, 4) and page.published_utc_offset_minutes == 120
    assert page.published_at == datetime(2020, 6, 4, 14, 41, 46, tzinfo=timezone.utc)
    assert page.date_source == "html:json-ld"


def test_meta_tags_that_disagree_take_the_day_the_page_shows():
    head = ('<meta property="article:published_time" content="2021-12-14T15:41:07+01:00">'
            '<meta property="article:modified_time" content="2022-02-04T15:33:00+01:00">')
    page = found(head, body="<p>4. Februar 2022, 15:33 Uhr</p>" + BODY)
    assert page.published_local_date == date(2022, 2, 4) and page.date_source == "html:meta"
    ld = _ld("2023-11-03T10:25:56+00:00") + '<meta property="article:published_time" content="2023-11-06T14:25:00Z">'
    page = found(ld, body="<p>Von K. Schmidt, 6. November 2023, 15:25 Uhr</p>" + BODY)
    assert page.published_local_date == date(2023, 11, 6) and page.date_source == "html:meta"


def test_a_shown_statement_beats_htmldates_guess_when_the_page_states_none_readable():
    head = ('<meta property="article:published_time" content="Di., 25.01.2022 - 14:45">'
            '<meta property="og:updated_time" content="2022-01-26T14:35:56+01:00">')
    tree = load_html(html(head, "<p>am Mittwoch, 26.01.2022 - 14:30</p>" + BODY))
    result = find_publication_date(tree, "http://example.org/a", "2022-01-25T14:45:00", FETCHED)
    assert result.local_date == date(2022, 1, 26) and result.source == "html:meta"


@pytest.mark.parametrize("body", [
    "<p>By A. Writer. Updated Jun 4, 2020, 2:15pm EDT</p>" + BODY,  # an update note, not the page's date
    "<p>Aktualisiert am 04.06.2020</p>" + BODY,
    BODY * 3 + "<footer>Retrieved 4 June 2020. Today in history: 4 June 2020</footer>",  # far from the headline
    "<p>4 June 2020</p>" + BODY + "<p>First published 17 June 2019</p>",  # the first day is shown too
])
def test_a_first_publication_stays_unless_only_the_other_day_is_shown_as_the_date(body):
    assert found(_REPUBLISHED_LD, body=body).published_local_date == date(2019, 6, 17)


def test_a_shown_day_after_the_fetch_is_no_date_either():
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2019-06-17T10:00:00Z", '
          '"dateModified": "2026-11-22T10:00:00Z"}</script>')  # the day after the fetch
    page = found(ld, body="<p>22.11.2026</p>" + BODY)
    assert page.published_local_date == date(2019, 6, 17) and page.published_at <= FETCHED


def test_a_page_without_headline_keeps_its_statement():
    page = extract_page(f"<html><head>{_REPUBLISHED_LD}</head><body><p>04.06.2020</p>{BODY}</body></html>",
                        "http://example.org/a", ExtractionSettings(timeout=0), FETCHED)
    assert page.published_local_date == date(2019, 6, 17)


_NAMED = ["{d}. {de} {y}", "{d} {en} {y}", "{en} {d}, {y}", "{en3}. {d} {y}", "{d} de {es} de {y}",
          "{y}-{m:02d}-{d:02d}", "{d} {tr} {y}", "{d} {tr_caps} {y}", "{d} {ar} {y}", "{d} {lev}/{ar} {y}"]
_NUMERIC = ["{d:02d}.{m:02d}.{y}", "{d}.{m}.{y}", "{d}/{m}/{y}", "{m:02d}/{d:02d}/{y}", "{d:02d}.{m:02d}.{y2:02d}"]
_DE = "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split()
_EN = "January February March April May June July August September October November December".split()
_ES = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split()
_TR = "Ocak Şubat Mart Nisan Mayıs Haziran Temmuz Ağustos Eylül Ekim Kasım Aralık".split()
_TR_CAPS = "OCAK ŞUBAT MART NİSAN MAYIS HAZİRAN TEMMUZ AĞUSTOS EYLÜL EKİM KASIM ARALIK".split()
_AR = "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر".split()
_LEV = ("كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران", "تموز", "آب", "أيلول", "تشرين الأول",
        "تشرين الثاني", "كانون الأول")


def _written(day, form):
    month = day.month - 1
    return form.format(d=day.day, m=day.month, y=day.year, y2=day.year % 100, de=_DE[month], en=_EN[month],
                       en3=_EN[month][:3], es=_ES[month], tr=_TR[month], tr_caps=_TR_CAPS[month], ar=_AR[month],
                       lev=_LEV[month])


_WORDS = st.text(alphabet="abcdefghij ,|:", max_size=20)


@settings(max_examples=80, deadline=None)
@given(st.dates(min_value=date(1995, 1, 1), max_value=date(2030, 12, 31)), st.sampled_from(_NAMED + _NUMERIC),
       _WORDS, _WORDS, st.dates(min_value=date(1995, 1, 1), max_value=date(2030, 12, 31)))
def test_a_written_day_is_found_and_a_named_one_is_no_other_day(day, form, before, after, other):
    from newsbeam.shown_dates import shows_day

    text = f"{before} {_written(day, form)} {after}"
    assert shows_day(text, day)
    if form in _NAMED and other != day:
        assert not shows_day(text, other)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.dates(min_value=date(1995, 1, 1), max_value=date(2030, 12, 31)))
def test_the_shown_day_readers_never_raise(markup, day):
    from newsbeam.shown_dates import shows_day_as_date, visible_text

    tree = load_html(f"<html><body><h1>{markup}</h1><p>{markup}</p></body></html>")
    text, headings = visible_text(tree) if tree is not None else ("", [])
    assert isinstance(text, str) and all(0 <= start <= len(text) + 1 for start in headings)
    assert isinstance(shows_day_as_date(markup, day), bool)


def test_a_machine_timestamp_in_the_text_is_not_a_shown_day_and_a_dublin_core_date_is_a_second_opinion():
    head = ('<meta property="article:published_time" content="2021-10-27T20:35:36+01:00">'
            '<meta name="dcterms.date" content="2021-10-28T13:21:30+01:00">')
    body = "<p>Berlin, 28.10.2021</p><span>de-DE 2021-10-27T20:35:36+01:00</span>" + BODY
    page = found(head, body=body)
    assert page.published_local_date == date(2021, 10, 28) and page.date_source == "html:meta"


@pytest.mark.parametrize("text, shown", [
    ("Berlin, 06.01.2020", True), ("Monday, 6 January 2020 By M. Writer", True), ("16.01.2020", False),
    ("26 enero 2020", False), ("Benjan 6, 2020", False), ("Jan 6, 2021", False), ("2020-01-06T09:22:36Z", False),
])
def test_a_day_is_shown_only_when_written_as_that_day(text, shown):
    from newsbeam.shown_dates import shows_day

    assert shows_day(text, date(2020, 1, 6)) is shown


# htmldate's text search: a day written further down (related stories, a programme, comments) against the byline's
_FAR = BODY * 2 + "<div><p>Related: 2020/02/20 story</p><p>2020/02/20 other story</p></div>"


@pytest.mark.parametrize("byline, day", [
    ("<p>By A. Writer, March 3, 2020</p>", date(2020, 3, 3)),
    ("<p>Karlsruhe (03.03.2020). Von A. Writer</p>", date(2020, 3, 3)),
    ("<p>Familie 03/03/2020</p>", date(2020, 3, 3)),
    ("<p>Updated March 3, 2020</p>", date(2020, 2, 20)),  # an update note is not the page's date
    ("<p>By A. Writer</p>", date(2020, 2, 20)),  # no day by the headline: htmldate's stays
])
def test_a_day_found_in_the_text_gives_way_to_the_day_written_by_the_headline(byline, day):
    page = found(body=byline + _FAR, url="http://example.org/a")
    assert page.published_local_date == day and page.date_source == "html:text"


@pytest.mark.parametrize("time, day", [
    ('<p>Started <time datetime="2020-02-20T12:22:42-0400">a minute ago</time></p>', date(2020, 2, 20)),
    ('<div class="comment-list"><time datetime="2020-02-20T03:36:11+02:00">20 Feb</time></div>', date(2020, 3, 3)),
])
def test_a_time_element_outside_comments_confirms_the_text_searchs_day(time, day):
    page = found(body="<p>Joined March 3, 2020</p>" + _FAR + time, url="http://example.org/a")
    assert page.published_local_date == day


@settings(max_examples=80, deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)), st.sampled_from(_NAMED + _NUMERIC),
       _WORDS, _WORDS)
def test_any_written_day_is_read_back(day, form, before, after):
    from newsbeam.shown_dates import written_days

    text = f"{before} {_written(day, form)} {after}"
    read = {found for _, _, found in written_days(text)} | {found for _, _, found in written_days(text, True)}
    assert day in read
    if form in _NAMED:  # a month name leaves no doubt: that day and no other
        assert [found for _, _, found in written_days(text)] == [day]


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet="0123456789./- ,JanuryMchst", max_size=40))
def test_reading_written_days_never_raises_and_finds_only_real_days(text):
    from newsbeam.shown_dates import written_days

    for start, end, day in written_days(text):
        assert 0 <= start < end <= len(text) and isinstance(day, date)


@pytest.mark.parametrize("stated, body, day", [
    ("2020-12-05T23:15:00Z", "<p>06 Dicembre 2020 | Roma</p>" + BODY, date(2020, 12, 6)),
    ("2020-12-05T23:15:00", "<p>06 Dicembre 2020 | Roma</p>" + BODY, date(2020, 12, 6)),  # no offset: same
    ("2020-12-05T23:15:00+01:00", "<p>06 Dicembre 2020 | Roma</p>" + BODY, date(2020, 12, 5)),  # the publisher's
    ("2020-12-05T23:15:00Z", "<p>06 Dicembre 2020</p>" + BODY + "<p>Sent 05.12.2020</p>", date(2020, 12, 5)),
    ("2020-12-05T23:15:00Z", "<p>06 Dicembre 2020</p>" + BODY * 2 + "<p>Teaser 05.12.2020</p>", date(2020, 12, 6)),
    ("2020-12-05T23:15:00Z", "<p>09 Dicembre 2020</p>" + BODY, date(2020, 12, 5)),  # no instant of the 5th
    ("2020-12-05T23:15:00Z", '<p>06 Dicembre 2020 <time datetime="2020-12-05">5/12</time></p>' + BODY,
     date(2020, 12, 5)),
])
def test_a_utc_timestamp_whose_day_the_headline_does_not_show_takes_the_day_it_shows(stated, body, day):
    page = found(f'<meta property="article:published_time" content="{stated}">', body=body, url="http://example.org/a")
    assert page.published_local_date == day and page.date_source == "html:meta"
    assert page.published_at == datetime(2020, 12, 5, 23, 15, tzinfo=timezone.utc) - (
        timedelta(hours=1) if stated.endswith("+01:00") else timedelta(0))
    if day == date(2020, 12, 6):
        assert page.published_utc_offset_minutes is None


@pytest.mark.parametrize("shown, day", [
    ("<p>Erstellt am: 01.11.2023</p>", date(2023, 11, 1)),  # the meta tag is American
    ("<p>Erstellt am: 11.01.2023</p>", date(2023, 1, 11)),
    ("<p>Erstellt am: 11/01/2023</p>", date(2023, 1, 11)),  # both readings: htmldate's stays
    ("", date(2023, 1, 11)),
])
def test_a_day_and_month_read_the_wrong_way_round_take_the_order_the_page_shows(shown, day):
    page = found('<meta name="date" content="11/01/2023 12:43:42">', body=BODY * 2 + shown,
                 url="http://example.org/a")
    assert page.published_local_date == day and page.date_source == "html:meta"


@pytest.mark.parametrize("text, day", [
    ("<footer><p>Copyright © 2022 Example e.V.</p></footer>", None),  # a year alone is no day
    ("<p>Comunicato Stampa n. 03/2020</p>", None),  # nor a month
    ("<p>Unser Tipp im November 2021</p>", None),
    ("<p>Stand 01.03.2020</p>", date(2020, 3, 1)),  # the first of a month, written: a day
])
def test_a_month_or_a_year_alone_is_no_publication_day(text, day):
    page = found(body=BODY + text, url="http://example.org/a")
    assert page.published_local_date == day
    assert page.date_source == ("none" if day is None else "html:text")


def test_a_day_written_as_the_publication_beats_the_text_searchs_revision():
    text = "<p>Letzte Änderung: 31.10.2023 - 14:49:39 Erschienen am: 01.11.2023</p>"
    page = found(body="<p>By A. Writer</p>" + BODY * 2 + text, url="http://example.org/a")
    assert page.published_local_date == date(2023, 11, 1) and page.date_source == "html:text"


@pytest.mark.parametrize("text, noted", [
    ("Veröffentlicht am 16.08.2019", True), ("Erschienen am: 01.11.2023", True), ("Published on 3 May 2020", True),
    ("publié le 3 mai 2020", True), ("Unpublished 3 May 2020", False), ("Updated 3 May 2020", False),
    ("Yayınlanma: 14.11.2026", True), ("YAYIN TARİHİ 14 Kasım 2026", True), ("Güncelleme: 14.11.2026", False),
    ("نشر في 14 نوفمبر 2026", True), ("تاريخ النشر: 14/11/2026", True), ("آخر تحديث: 14 نوفمبر 2026", False),
])
def test_a_publication_note_is_recognised(text, noted):
    from newsbeam.shown_dates import is_publication_note, written_days

    (start, _, _), = written_days(text)
    assert is_publication_note(text, start) is noted


@pytest.mark.parametrize("lang, day", [
    ("en-US", date(2020, 3, 4)), ("en-GB", date(2020, 4, 3)), ("de", date(2020, 4, 3))])
def test_a_numeric_day_by_the_headline_is_read_in_the_pages_order(lang, day):
    page = html(body="<p>By A. Writer, 03/04/2020</p>" + _FAR).replace("<html>", f'<html lang="{lang}">')
    result = extract_page(page, "http://example.org/a", ExtractionSettings(timeout=0), FETCHED)
    assert result.published_local_date == day and result.date_source == "html:text"


def _visible_text_by_elements(tree):
    """The first implementation of `visible_text` (every element visited from Python): the reference."""
    from newsbeam.shown_dates import _BODY, _INVISIBLE

    parts, headings, size = [], [], 0
    stack = list(reversed(_BODY(tree) or [tree]))
    while stack:
        element = stack.pop()
        if isinstance(element, str):
            text = element
        else:
            if element.tail:
                stack.append(element.tail)
            if not isinstance(element.tag, str) or element.tag in _INVISIBLE:
                continue
            if element.tag == "h1":
                headings.append(size)
            stack.extend(reversed(element))
            text = element.text
        text = " ".join((text or "").split())
        if text:
            parts.append(text)
            size += len(text) + 1
    return " ".join(parts), headings


_PIECES = st.sampled_from(["<h1>", "</h1>", "<h1></h1>", "<script>var a = '3 May 2020';</script>", "<noscript>",
                           "</noscript>", "<template><p>t</p></template>", "<!-- c -->", "<p>", "</p>", "<b>", "</b>",
                           "<style>p {}</style>", "<title>x</title>", "\xa0", " ", "\n", "Mai 2020", "x", "<br>"])


@settings(max_examples=80, deadline=None)
@given(st.lists(_PIECES, max_size=25), st.booleans())
def test_visible_text_reads_what_the_element_walk_reads(pieces, wrapped):
    from newsbeam.shown_dates import visible_text

    markup = "".join(pieces)
    tree = load_html(f"<html><head><title>t</title></head><body>{markup}</body></html>" if wrapped else
                     f"<div>{markup}</div>")
    if tree is not None:
        assert visible_text(tree) == _visible_text_by_elements(tree)


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1995, 1, 1), max_value=date(2030, 12, 31)), st.sampled_from(_NAMED + _NUMERIC),
       st.text(alphabet="0123456789 .-/,aJ", max_size=15), st.text(alphabet="0123456789 .-/,aT", max_size=15),
       st.booleans())
def test_a_day_searched_around_its_year_is_found_as_by_the_whole_pattern(day, form, before, after, written):
    from newsbeam.shown_dates import day_matches, day_pattern

    text = " ".join(f"{before}{_written(day, form) if written else ''}{after}".split())
    assert [m.span() for m in day_matches(text, day)] == [m.span() for m in day_pattern(day).finditer(text)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.dates(min_value=date(1995, 1, 1), max_value=date(2030, 12, 31)),
                          st.sampled_from(_NAMED + _NUMERIC)), max_size=3),
       st.lists(st.text(alphabet="0123456789 .-/,aJMT", max_size=12), min_size=4, max_size=4))
def test_written_days_searched_around_years_are_those_of_the_whole_text(days, fillers):
    from newsbeam.shown_dates import _ANY_DAY, _read_days, written_days

    pieces = [fillers[0]] + [f"{_written(day, form)}{fillers[1 + i]}" for i, (day, form) in enumerate(days)]
    text = " ".join(" ".join(pieces).split())
    assert list(written_days(text)) == list(_read_days(_ANY_DAY.finditer(text), False))


_DAYISH = st.sampled_from(["1 January 0001", "31.12.9999", "01.01.0001", "0001-01-01", "12/31/99", "29.02.2021",
                           "6 Dicembre 2020", "04.12.2020", "Updated 6 December 2020", "Erschienen am 6.12.2020"])


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(1995, 1, 2), max_value=datetime(2026, 11, 20)),
       st.sampled_from(["Z", "", "+01:00"]), st.lists(_DAYISH, max_size=4), st.booleans())
def test_any_days_by_the_headline_never_raise_nor_date_after_the_fetch(moment, zone, days, stated):
    head = f'<meta property="article:published_time" content="{moment.isoformat()}{zone}">' if stated else ""
    body = "".join(f"<p>{day}</p>" for day in days) + BODY
    tree = load_html(html(head, body))
    value = None if stated else "2020-12-05T00:00:00"
    page = find_publication_date(tree, "http://example.org/a", value, FETCHED)
    assert page is None or (page.published_at <= FETCHED and page.local_date.year >= 1995)


@pytest.mark.parametrize("shown, day", [
    # htmldate reads a year alone (2026-01-01) or the first of the month; the headline's day is the page's
    ("<p>نشر في 14 نوفمبر 2026</p>", date(2026, 11, 14)),
    ("<p>الأحد 15 تشرين الثاني 2026</p>", date(2026, 11, 15)),
    ("<p>الأحد 15 تشرين الثاني/نوفمبر 2026</p>", date(2026, 11, 15)),
    ("<p>١٤ نوفمبر ٢٠٢٦</p>", date(2026, 11, 14)),  # Arabic-Indic digits
    ("<p>1 نوفمبر 2026</p>", date(2026, 11, 1)),  # the first of a month, written with its name: a day
    ("<p>1 Kasım 2026 Pazar</p>", date(2026, 11, 1)),
    ("<p>1 KASIM 2026</p>", date(2026, 11, 1)),  # Turkish capitals (str.lower() gives 'kasim')
    ("<p>Yayınlanma: 03.11.2026 - Güncelleme: 04.11.2026</p>", date(2026, 11, 3)),
])
def test_turkish_and_arabic_days_by_the_headline_are_read(shown, day):
    """Regression: these pages had no date (`none`): the month names of Turkish and Arabic news were unknown, so
    the first of a month was taken for a year alone and a day by the headline was not seen."""
    page = extract_page(html(body=shown + BODY).replace("Budget</h1>", "الميزانية</h1>"), "http://example.org/a",
                        ExtractionSettings(timeout=0), FETCHED + timedelta(days=30))
    assert page.published_local_date == day and page.date_source == "html:text"


def test_arabic_indic_digits_are_read_as_digits_in_the_visible_text():
    from newsbeam.shown_dates import visible_text

    text, _ = visible_text(load_html("<html><body><h1>خبر</h1><p>١٤/١١/٢٠٢٦ ۱۵</p></body></html>"))
    assert text == "خبر 14/11/2026 15"
