"""PDF documents become article rows (text repaired, metadata, page count) or clear dead letters."""
import unicodedata
from datetime import date, datetime, timezone

import pytest
from apache_beam.pvalue import TaggedOutput
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam import reasons
from newsbeam.extraction import ExtractionSettings
from newsbeam.fetching import html_only
from newsbeam.pdf import PdfEncrypted, PdfError, PdfTooLarge, extract_pdf, parse_pdf_date, repair_text
from newsbeam.schemas.records import ExtractedArticle, FeedItem, FetchedPage, FetchRequest
from newsbeam.transforms.extract import _ExtractFn
from tests import pdf_samples

FETCHED = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
UNGUARDED = ExtractionSettings(timeout=0)


def fetched(body, content_type="application/pdf", url="http://x/report.pdf"):
    item = FeedItem(url=url, canonical_url=url, title="From the feed")
    return FetchedPage(request=FetchRequest(url=url, context=item), final_url=url, status=200,
                       content_type=content_type, header_charset=None, body=body, fetched_at=FETCHED, attempts=1)


def outcome(body, settings=UNGUARDED, **kwargs):
    fn = _ExtractFn(settings)
    fn.setup()
    try:
        (result,) = list(fn.process(fetched(body, **kwargs)))
    finally:
        fn.teardown()
    return result.value if isinstance(result, TaggedOutput) else result


@pytest.fixture(scope="module")
def report():
    return pdf_samples.text_pdf()


def test_a_pdf_becomes_an_article_with_its_metadata(report):
    article = outcome(report)
    assert isinstance(article, ExtractedArticle)
    assert article.title == "Harbour budget agreed" and article.authors == ("Ann Smith", "Bob Jones")
    assert article.page_count == 3 and article.content_type == "application/pdf"
    assert article.published_local_date == date(2024, 3, 5) and article.published_utc_offset_minutes == 60
    assert article.published_at == datetime(2024, 3, 5, 9, 0, tzinfo=timezone.utc)
    assert article.date_source == "pdf:metadata" and article.word_count > 400


def test_pdf_artefacts_are_repaired(report):
    text = extract_pdf(report, 200).text
    assert text.startswith("It is estimated that the repairs")  # the drop capital is back in its word
    assert "engineering survey" in text and "engi" + "\n" not in text  # hyphenation across lines joined
    assert pdf_samples.HEADER not in text and "Page 1 of 3" not in text  # running header and footer dropped
    assert "\ufffe" not in text and "\r" not in text


def test_a_sniffed_pdf_without_content_type_is_read_as_pdf(report):
    article = outcome(report, content_type=None)
    assert isinstance(article, ExtractedArticle) and article.page_count == 3


def test_two_columns_are_read_column_by_column():
    text = extract_pdf(pdf_samples.two_column_pdf(), 200).text
    left, right = text.index("End of the left column."), text.index("End of the right column.")
    assert left < text.index(pdf_samples.SENTENCES[2]) < right  # the right column starts after the left ends


@pytest.mark.parametrize("body, reason", [
    (pdf_samples.scanned_pdf(), reasons.EMPTY_TEXT),
    (pdf_samples.encrypted_pdf(), reasons.PDF_ENCRYPTED),
    (pdf_samples.truncated_pdf(), reasons.PDF_ERROR),
    (b"%PDF-1.7\n garbage", reasons.PDF_ERROR),
])
def test_unreadable_pdfs_are_dead_letters(body, reason):
    dead = outcome(body)
    assert dead.reason == reason and dead.stage == reasons.STAGE_EXTRACT and dead.detail


def test_too_many_pages_is_too_large(report):
    dead = outcome(report, ExtractionSettings(timeout=0, max_pdf_pages=2))
    assert dead.reason == reasons.TOO_LARGE and "--max-pdf-pages" in dead.detail


def test_pdf_errors_are_typed(report):
    with pytest.raises(PdfEncrypted):
        extract_pdf(pdf_samples.encrypted_pdf(), 200)
    with pytest.raises(PdfError):
        extract_pdf(b"not a pdf", 200)
    with pytest.raises(PdfTooLarge):
        extract_pdf(report, 1)


def test_fetching_accepts_pdf():
    assert html_only(200, {"content-type": "application/pdf"}) is None
    assert html_only(200, {"content-type": "image/png"}) == reasons.NOT_HTML


def test_pdf_dates():
    assert parse_pdf_date("D:20240305100000+01'00'") == datetime(2024, 3, 5, 10, 0, tzinfo=pdf_samples.CREATED.tzinfo)
    assert parse_pdf_date("D:20240305100000Z") == datetime(2024, 3, 5, 10, 0, tzinfo=timezone.utc)
    assert parse_pdf_date("D:20240305") == datetime(2024, 3, 5)
    assert parse_pdf_date("D:20241399") is None and parse_pdf_date("yesterday") is None


def test_pdf_dates_vaguer_than_a_day_are_no_date():
    # a year or a month alone is no publication day: 1 January would be made up (as on HTML pages)
    assert parse_pdf_date("D:2019") is None and parse_pdf_date("D:201903") is None
    assert parse_pdf_date("D:00000000") is None and parse_pdf_date("D:") is None


def test_empty_body_is_a_pdf_error_that_says_so():
    with pytest.raises(PdfError, match=r"empty body \(0 bytes\)"):
        extract_pdf(b"", 200)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200),
                max_size=5))
def test_repair_text_never_raises_and_never_invents_text(pages):
    text = repair_text(pages)
    # the text is NFC (docs/extraction.md): a compatibility ideograph becomes its canonical twin
    letters = sorted(c for c in unicodedata.normalize("NFC", "".join(pages)) if c.isalnum())
    assert all(c in letters for c in text if c.isalnum()) or not text


@settings(max_examples=40, deadline=None)
@given(st.from_regex(r"[a-z]{2,10}", fullmatch=True), st.from_regex(r"[a-z]{2,10}", fullmatch=True))
def test_words_hyphenated_across_lines_are_joined(head, tail):
    assert repair_text([f"Some text with {head}-\n{tail} inside."]) == f"Some text with {head}{tail} inside."


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=30))
def test_parse_pdf_date_never_raises(value):
    assert parse_pdf_date(value) is None or isinstance(parse_pdf_date(value), datetime)


def test_pdf_responses_go_through_the_pipeline_as_articles_or_dead_letters():
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from newsbeam.sample_site import SampleSite
    from newsbeam.transforms.common import DEAD_LETTERS
    from newsbeam.transforms.core import CoreSettings, ProcessArticles
    from tests.conftest import FAST
    from tests.faults import _html
    from tests.pipeline_helpers import fnapi_pipeline

    routes = {"/docs/report.pdf": _html(200, pdf_samples.text_pdf(), "application/pdf"),
              "/docs/locked.pdf": _html(200, pdf_samples.encrypted_pdf(), "application/pdf")}
    with SampleSite(routes=routes) as site:
        items = [FeedItem(url=site.url(p), canonical_url=site.url(p)) for p in routes]
        pipeline = fnapi_pipeline()
        result = pipeline | beam.Create(items) | ProcessArticles(CoreSettings(fetch=FAST))
        assert_that(result["articles"] | beam.Map(lambda a: (a.extracted.page_count, a.extracted.content_type,
                                                             a.language)),
                    equal_to([(3, "application/pdf", "en")]), label="Articles")
        assert_that(result[DEAD_LETTERS] | beam.Map(lambda d: (d.url.rsplit("/", 1)[-1], d.reason)),
                    equal_to([("locked.pdf", reasons.PDF_ENCRYPTED)]), label="DeadLetters")
        pipeline.run().wait_until_finish()
