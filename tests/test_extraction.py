import json
from datetime import datetime, timezone

import pytest

from newsbeam.extraction import (
    EmptyText,
    ExtractionSettings,
    content_hash,
    decode_html,
    extract_page,
    normalize_text,
    word_count,
)
from newsbeam.sample_site import SITE_DIR

FETCHED = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
GERMAN = "Rückkehrerinnen vor dem Oberlandesgericht Düsseldorf: die Staatsanwaltschaft äußert sich"
ARABIC = "بدأت محاكمة ثلاث نساء عدن من مخيم الهول"
FRENCH = "Le procès des revenantes s'est ouvert à Paris, témoignages à l'appui"


def page(name):
    return (SITE_DIR / "articles" / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("body, header, text, source", [
    (FRENCH.encode("utf-8"), "iso-8859-1", FRENCH, "utf-8"),  # header lies, bytes are UTF-8
    (("<meta charset='iso-8859-1'>" + GERMAN).encode("latin-1"), "utf-8", "<meta charset='iso-8859-1'>" + GERMAN,
     "meta"),
    (GERMAN.encode("latin-1"), "iso-8859-1", GERMAN, "header"),
    (ARABIC.encode("windows-1256"), "windows-1256", ARABIC, "header"),
    ("\ufeff".encode("utf-8") + FRENCH.encode("utf-8"), None, FRENCH, "bom"),
    (FRENCH.encode("utf-16"), None, FRENCH, "bom"),
    (b"plain ascii", None, "plain ascii", "utf-8"),
])
def test_decode_html_avoids_mojibake(body, header, text, source):
    decoded = decode_html(body, header)
    assert decoded.text == text
    assert decoded.encoding_source == source


def test_decode_html_detects_when_nothing_is_declared():
    body = ("<html><body><p>" + GERMAN * 20 + "</p></body></html>").encode("latin-1")
    decoded = decode_html(body, None)
    assert "Düsseldorf" in decoded.text and decoded.encoding_source == "detected"


def test_decode_html_never_raises_on_garbage():
    decoded = decode_html(bytes(range(256)) * 4, "no-such-charset")
    assert isinstance(decoded.text, str)


def test_extract_page_strips_chrome_and_keeps_metadata():
    content = extract_page(page("en-hague-court-ruling.html"), "http://x/a", ExtractionSettings(), FETCHED)
    assert content.title.startswith("Court in The Hague")
    assert content.published_at == datetime(2026, 11, 19, 14, 40, tzinfo=timezone.utc)
    assert content.sitename == "The Sample Courier"
    assert content.authors == ("Sophie Wentworth",)
    assert content.description
    for boilerplate in ("cookie", "Cookie", "newsletter", "Newsletter", "Related", "Copyright", "©"):
        assert boilerplate not in content.text, boilerplate
    assert len(content.text) > 1500


@pytest.mark.parametrize("name", ["en-subscribers-only.html", "fr-reserve-abonnes.html"])
def test_boilerplate_only_pages_are_empty_text(name):
    with pytest.raises(EmptyText):
        extract_page(page(name), "http://x/a", ExtractionSettings(), FETCHED)


def test_pages_without_a_date_get_none():
    content = extract_page(page("en-defector-testimony-raqqa.html"), "http://x/a", ExtractionSettings(), FETCHED)
    assert content.published_at is None


def test_dates_after_the_fetch_are_rejected():
    html = page("en-hague-court-ruling.html")  # published 2026-11-19
    early = datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert extract_page(html, "http://x/a", ExtractionSettings(), early).published_at is None


def test_hash_and_counts_ignore_whitespace_and_case():
    assert content_hash("Deir ez-Zor  \n tonight") == content_hash("deir EZ-zor tonight")
    assert content_hash("Deir ez-Zor") != content_hash("Raqqa")
    assert normalize_text("  a \n\n b ") == "a b"
    assert word_count("Deir ez-Zor, 12 km") == 5
    assert word_count(ARABIC) == 8


def test_decode_html_reads_a_meta_charset_after_a_long_head():
    # a <meta charset> after 10 KB of inline script is still the page's declaration (browsers re-decode on it);
    # read from the first 8 KB only, detection took these windows-1252 bytes for windows-1250 ("crčme brűlée")
    text = ("<html><head><script>" + "var x = 1;\n" * 1000 + "</script><meta charset='windows-1252'></head><body><p>"
            + "La crème brûlée du théâtre est servie à la terrasse. " * 10 + "</p></body></html>")
    decoded = decode_html(text.encode("cp1252"), None)
    assert decoded.text == text and decoded.encoding_source == "meta"


def test_decode_html_meta_charset_in_the_body_past_8_kb_is_not_the_pages():
    # past the first 8 KB only the head declares: a <meta charset> quoted in an article's body is not trusted
    body = ("<html><head></head><body>" + "x" * 9000 + "<meta charset='koi8-r'>" + "Düsseldorf " * 50
            + "</body></html>").encode("latin-1")
    assert decode_html(body, None).encoding_source != "meta"


SHORT_PARAGRAPHS = ["The council met on Tuesday.", "It agreed the budget.", "The harbour wall will be repaired.",
                    "Work starts in May.", "Residents welcomed the news.", "The ferry timetable stays.",
                    "Shops will open on Sundays.", "The mayor thanked the staff.", "A vote follows next week.",
                    "The treasurer was pleased."]


@pytest.mark.parametrize("article_body", [
    "Le conseil s'est réuni mardi et a adopté le budget du port. " * 30,  # the same article in another language
    "An unrelated story about the regional football league and its new stadium plans. " * 10,
])
def test_an_article_body_that_is_not_this_text_drops_nothing(article_body):
    # the short paragraphs are checked against the JSON-LD articleBody; one that holds none of them is not this
    # text, and every short paragraph used to be dropped: an article of short paragraphs was empty_text
    json_ld = json.dumps({"@type": "NewsArticle", "headline": "Budget", "articleBody": article_body})
    html = (f"<html><head><title>Budget</title><script type='application/ld+json'>{json_ld}</script></head><body>"
            "<article><h1>Budget</h1>" + "".join(f"<p>{p}</p>" for p in SHORT_PARAGRAPHS) + "</article></body></html>")
    content = extract_page(html, "https://example.org/budget", ExtractionSettings(), FETCHED)
    assert all(p in content.text for p in SHORT_PARAGRAPHS)
