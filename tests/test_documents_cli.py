"""Hostile documents through the real `newsbeam ingest --urls` command: HTML that is deep, huge, bodiless or hidden,
late charsets, dates that must not be made up, close languages and scripts, and PDF documents that are empty,
encrypted, broken or too long. One run serves them all from a loopback server; each URL must end as exactly one
article row with the right text, title, date and language, or one dead letter with a precise reason."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from datetime import datetime, timezone

import pyarrow.dataset as ds
import pypdfium2 as pdfium
import pytest
from fpdf import FPDF

from newsbeam.sample_site import SampleSite
from tests import pdf_samples

NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli"]
ENGLISH = ("Prosecutors in Brussels opened the trial of three women who returned from the camp in north-east Syria, "
           "where thousands of families of fighters are still held.")
FRENCH = "La crème brûlée du théâtre est servie à la terrasse, a déclaré le gérant du café."
ARABIC = ("أعلنت الحكومة اليوم عن خطة جديدة لإعادة إعمار المدن المتضررة في شمال شرق سوريا، وقال المتحدث إن العمل "
          "سيبدأ خلال الأشهر المقبلة.")
PERSIAN = ("دولت امروز از طرح تازه‌ای برای بازسازی شهرهای آسیب‌دیده در شمال شرق سوریه خبر داد و سخنگو گفت که کار در "
           "ماه‌های آینده آغاز می‌شود.")
TURKISH = ("Hükümet bugün kuzeydoğu Suriye'deki hasarlı şehirlerin yeniden inşası için yeni bir plan açıkladı ve sözcü "
           "çalışmaların önümüzdeki aylarda başlayacağını söyledi.")
KURMANJI = ("Hikûmetê îro planeke nû ji bo avakirina bajarên xerabûyî yên li bakurê rojhilatê Sûriyeyê ragihand û "
            "berdevk got ku kar dê di mehên bê de dest pê bike.")
SORANI = ("حکومەت ئەمڕۆ پلانێکی نوێی بۆ ئاوەدانکردنەوەی شارە وێرانبووەکان لە باکووری ڕۆژهەڵاتی سووریا ڕاگەیاند و "
          "وتەبێژەکەی وتی کارەکە لە مانگەکانی داهاتوودا دەست پێدەکات.")
TITLE = "The trial opens"
SHORT_LINES = ["The council met on Tuesday.", "It agreed the budget.", "The harbour wall will be repaired.",
               "Work starts in May.", "Residents welcomed the news.", "The ferry timetable stays.",
               "Shops will open on Sundays.", "The mayor thanked the staff.", "A vote follows next week."]
BIG_PAGE_BYTES = 20_000_000


def _paragraphs(sentence: str, count: int = 6) -> str:
    # paragraphs must differ: trafilatura drops repeated ones
    return "".join(f"<p>{sentence} ({i + 1})</p>" for i in range(count))


def _page(body: str, head: str = "", title: str = TITLE, lang: str = "en") -> bytes:
    return (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{title}</title>{head}</head>"
            f"<body>{body}</body></html>").encode("utf-8")


def _article(sentence: str = ENGLISH, head: str = "", lang: str = "en", extra: str = "") -> bytes:
    return _page(f"<article><h1>{TITLE}</h1>{extra}{_paragraphs(sentence)}</article>", head, lang=lang)


def _json_ld(*objects) -> str:
    return "".join(f"<script type='application/ld+json'>{json.dumps(o)}</script>" for o in objects)


def _pdf(text_pages, creation_date: bytes = b"", encrypt_owner: str = "", user_password: str = "") -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for page in text_pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, page)
    if encrypt_owner:
        pdf.set_encryption(owner_password=encrypt_owner, user_password=user_password)
    body = bytes(pdf.output())
    if creation_date:  # fpdf2 writes a valid date: put a malformed one in its place, keeping the old as a dummy key
        body = body.replace(b"/CreationDate (D:", b"/CreationDate (" + creation_date + b")/Dummy (D:", 1)
    return body


def _pdf_pages(count: int):
    return [" ".join(pdf_samples.SENTENCES[(page + k) % 4] for k in range(4)) + f" Page {page + 1}."
            for page in range(count)]


def _zero_page_pdf() -> bytes:
    document = pdfium.PdfDocument.new()
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _late_charset_page() -> bytes:
    # 12 KB of inline script before the <meta charset>; served as bare text/html (no charset in the header)
    text = ("<html><head><script>" + "var x = 1;\n" * 1100 + "</script><meta charset='windows-1252'><title>Café</title>"
            "</head><body><article>" + _paragraphs(FRENCH, 8) + "</article></body></html>")
    return text.encode("cp1252")


def _big_page() -> bytes:
    filler = "<div>" + "<span>filler words here</span>" * 500 + "</div>\n"
    head = _article().decode()
    return (head + filler * (BIG_PAGE_BYTES // len(filler))).encode()


HTML = "text/html; charset=utf-8"
PDF = "application/pdf"


def documents():
    """path -> (body, content type)."""
    next_data = json.dumps({"props": {"pageProps": {"article": {"title": "Next", "body": ENGLISH * 6}}}})
    xhtml = ("<?xml version='1.0' encoding='utf-8'?><html xmlns='http://www.w3.org/1999/xhtml'><head><title>XHTML"
             f"</title></head><body><article><h1>XHTML</h1>{_paragraphs(ENGLISH)}</article></body></html>")
    return {
        "/html/deep.html": (_page("<div>" * 10000 + _paragraphs(ENGLISH) + "</div>" * 10000), HTML),
        "/html/pre.html": (_page("<pre>" + "\n\n".join(f"{ENGLISH} ({i})" for i in range(30)) + "</pre>"), HTML),
        "/html/no-body.html": (f"<html><head><title>{TITLE}</title></head>{_paragraphs(ENGLISH)}</html>".encode(),
                               HTML),
        "/html/noscript.html": (_page(f"<noscript>{_paragraphs(ENGLISH)}</noscript>"), HTML),
        "/html/template.html": (_page(f"<div><template shadowrootmode='open'>{_paragraphs(ENGLISH)}</template></div>"),
                                HTML),
        "/html/br.html": (_page("<div>" + "<br>".join(f"{ENGLISH} ({i})" for i in range(12)) + "</div>"), HTML),
        "/html/frames.html": (b"<html><head><title>Frames</title></head><frameset><frame src='/html/br.html'>"
                              b"</frameset></html>", HTML),
        "/html/next.html": (_page(f"<div id='__next'></div><script id='__NEXT_DATA__' type='application/json'>"
                                  f"{next_data}</script>"), HTML),
        "/html/xhtml.xhtml": (xhtml.encode(), "application/xhtml+xml"),
        "/html/late-charset.html": (_late_charset_page(), "text/html"),
        "/html/big.html": (_big_page(), HTML),
        "/html/json-ld-other-language.html": (_page(
            f"<article><h1>{TITLE}</h1>" + "".join(f"<p>{line}</p>" for line in SHORT_LINES) + "</article>",
            _json_ld({"@type": "NewsArticle", "headline": TITLE, "articleBody": FRENCH * 12})), HTML),
        "/html/logo-h1.html": (_page(f"<header><h1><a href='/'>Courier</a></h1></header><article><h2>{TITLE}</h2>"
                                     "<p class='author'>Ann Smith<br>May 20, 2019</p>"
                                     f"{_paragraphs(ENGLISH)}</article>", title=f"{TITLE} | Courier"), HTML),
        "/dates/future.html": (_article(head="<meta property='article:published_time' content='2031-05-01T10:00:00Z'>"),
                               HTML),
        "/dates/epoch.html": (_article(head="<meta property='article:published_time' content='1970-01-01T00:00:00Z'>"),
                              HTML),
        "/dates/2019/03/04/url-and-json-ld.html": (_article(head=_json_ld(
            {"@type": "NewsArticle", "datePublished": "2021-06-07T08:00:00Z"})), HTML),
        "/dates/several-json-ld.html": (_article(head=_json_ld(
            {"@type": "WebSite", "name": "Courier", "dateModified": "2025-01-01"},
            {"@type": "NewsArticle", "datePublished": "2022-02-03T04:05:06+02:00"})), HTML),
        "/dates/hijri.html": (_article(ARABIC, lang="ar", extra="<p>١٥ رمضان ١٤٤٤ هـ</p>"), HTML),
        "/dates/eastern-digits.html": (_article(ARABIC, lang="ar", extra="<p>١٥/٠٣/٢٠٢٣</p>"), HTML),
        "/dates/turkish.html": (_article(TURKISH, lang="tr", extra="<p>14 Şubat 2022</p>"), HTML),
        "/dates/turkish-first.html": (_article(TURKISH, lang="tr", extra="<p>1 KASIM 2022</p>"), HTML),
        "/dates/arabic-month.html": (_article(ARABIC, lang="ar", extra="<p>١٥ مارس ٢٠٢٣</p>"), HTML),
        "/dates/levantine.html": (_article(ARABIC, lang="ar", extra="<p>15 تشرين الثاني/نوفمبر 2023</p>"), HTML),
        "/dates/ago.html": (_article(extra="<p>2 hours ago</p>"), HTML),
        "/lang/ar.html": (_article(ARABIC, lang="ar"), HTML),
        "/lang/fa.html": (_article(PERSIAN, lang="fa"), HTML),
        "/lang/tr.html": (_article(TURKISH, lang="tr"), HTML),
        "/lang/ar-rlm.html": (_article(ARABIC.replace(" ", " \u200f"), lang="ar"), HTML),
        "/lang/ku-latin.html": (_article(KURMANJI, lang="ku"), HTML),
        "/lang/ku-arabic.html": (_article(SORANI, lang="ckb"), HTML),
        "/pdf/d2019.pdf": (_pdf(_pdf_pages(1), b"D:2019"), PDF),
        "/pdf/d0.pdf": (_pdf(_pdf_pages(1), b"D:00000000"), PDF),
        "/pdf/empty-password.pdf": (_pdf(_pdf_pages(1), encrypt_owner="owner"), PDF),
        "/pdf/password.pdf": (_pdf(_pdf_pages(1), encrypt_owner="owner", user_password="reader"), PDF),
        "/pdf/broken-xref.pdf": (pdf_samples.text_pdf().replace(b"xref", b"xfer"), PDF),
        "/pdf/truncated.pdf": (pdf_samples.truncated_pdf(), PDF),
        "/pdf/five-pages.pdf": (_pdf(_pdf_pages(5)), PDF),
        "/pdf/zero-pages.pdf": (_zero_page_pdf(), PDF),
        "/pdf/zero-bytes.pdf": (b"", PDF),
        "/pdf/scanned.pdf": (pdf_samples.scanned_pdf(), PDF),
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One `newsbeam ingest` over every document; its rows by path, and how long it took."""
    served = documents()
    tmp = tmp_path_factory.mktemp("documents")
    routes = {path: (lambda body, ctype: lambda handler: handler.send_body(200, body, ctype))(body, ctype)
              for path, (body, ctype) in served.items()}
    with SampleSite(routes=routes) as site:
        urls = tmp / "urls.txt"
        urls.write_text("".join(site.url(path) + "\n" for path in served))
        started = time.monotonic()
        done = subprocess.run(
            [*NEWSBEAM, "ingest", "--urls", str(urls), "--output", str(tmp / "out"), "--run-id", "docs",
             "--host-delay", "0", "--allow-private-addresses", "--entities", "off", "--progress", "off",
             "--max-bytes", str(BIG_PAGE_BYTES + 1_000_000), "--extract-timeout", "2", "--max-pdf-pages", "4"],
            capture_output=True, text=True, timeout=300)
        seconds = time.monotonic() - started
        base = site.base_url
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp / "out"
    rows = {}
    for kind in ("articles", "dead_letters"):
        for row in ds.dataset(out / kind, format="parquet", partitioning="hive").to_table().to_pylist():
            path = row["url"].replace(base, "")
            assert path not in rows, f"{path} has two rows"
            rows[path] = {"kind": kind, **row}
    manifest = json.loads((out / "_runs" / "docs.json").read_text())
    return {"rows": rows, "served": served, "seconds": seconds, "manifest": manifest}


def article(run, path):
    row = run["rows"][path]
    assert row["kind"] == "articles", (path, row.get("reason"), row.get("detail"))
    return row


def dead_letter(run, path):
    row = run["rows"][path]
    assert row["kind"] == "dead_letters", (path, row.get("text", "")[:200])
    return row


def test_every_document_ends_as_exactly_one_row(run):
    assert set(run["rows"]) == set(run["served"])
    assert run["manifest"]["accounting"]["balanced"]


def test_no_date_is_after_the_fetch_and_each_says_where_it_came_from(run):
    for path, row in run["rows"].items():
        if row["kind"] == "articles":
            assert row["published_at"] is None or row["published_at"] <= row["fetched_at"], path
            assert (row["published_at"] is None) == (row["date_source"] == "none"), path


@pytest.mark.parametrize("path", ["/html/deep.html", "/html/pre.html", "/html/no-body.html", "/html/noscript.html",
                                  "/html/template.html", "/html/br.html", "/html/xhtml.xhtml"])
def test_odd_html_keeps_its_article(run, path):
    row = article(run, path)
    assert ENGLISH in row["text"] and row["language"] == "en"


def test_text_only_in_frames_or_next_data_is_an_honest_empty_text(run):
    for path in ("/html/frames.html", "/html/next.html"):
        row = dead_letter(run, path)
        assert (row["stage"], row["reason"]) == ("extract", "empty_text"), path


def test_an_article_body_in_another_language_drops_no_paragraph(run):
    # short paragraphs are checked against the JSON-LD articleBody: a French one dropped them all (empty_text)
    text = article(run, "/html/json-ld-other-language.html")["text"]
    assert all(line in text for line in SHORT_LINES)


def test_a_meta_charset_after_a_long_head_decodes_the_page(run):
    row = article(run, "/html/late-charset.html")
    assert FRENCH in row["text"] and row["title"] == "Café" and row["encoding"] == "cp1252"


def test_a_sites_logo_is_not_the_title_nor_a_date_the_authors_name(run):
    # the page's only <h1> is the site's logo (it links home): trafilatura took it for the title
    # and its byline's date is no part of the author's name ("Ann Smith May": trafilatura drops only the digits)
    row = article(run, "/html/logo-h1.html")
    assert (row["title"], row["authors"]) == (TITLE, ["Ann Smith"])


def test_a_20_mb_page_cannot_stall_the_run(run):
    row = run["rows"]["/html/big.html"]
    # extracted, or cut at --extract-timeout (2 s) in the watchdog's child; never a worker held for minutes
    assert row.get("reason") == "extraction_timeout" or ENGLISH in row["text"]
    assert run["seconds"] < 150


def test_dates_are_read_or_honestly_absent(run):
    assert article(run, "/dates/future.html")["date_source"] == "none"
    assert article(run, "/dates/epoch.html")["date_source"] == "none"
    # the page's own JSON-LD states the publication; the URL's day is an older slot
    url_and_json_ld = article(run, "/dates/2019/03/04/url-and-json-ld.html")
    assert (url_and_json_ld["published_at"], url_and_json_ld["date_source"]) == (
        datetime(2021, 6, 7, 8, tzinfo=timezone.utc), "html:json-ld")
    several = article(run, "/dates/several-json-ld.html")
    assert (several["published_at"], several["published_utc_offset_minutes"], several["date_source"]) == (
        datetime(2022, 2, 3, 2, 5, 6, tzinfo=timezone.utc), 120, "html:json-ld")
    assert article(run, "/dates/eastern-digits.html")["published_local_date"].isoformat() == "2023-03-15"
    assert article(run, "/dates/turkish.html")["published_local_date"].isoformat() == "2022-02-14"
    # month names of Arabic news (Egyptian and Levantine) and a Turkish first of the month in capitals
    assert article(run, "/dates/turkish-first.html")["published_local_date"].isoformat() == "2022-11-01"
    assert article(run, "/dates/arabic-month.html")["published_local_date"].isoformat() == "2023-03-15"
    assert article(run, "/dates/levantine.html")["published_local_date"].isoformat() == "2023-11-15"
    # a Hijri day is not read as a Gregorian one, and "2 hours ago" is not guessed
    assert article(run, "/dates/hijri.html")["date_source"] == "none"
    assert article(run, "/dates/ago.html")["date_source"] == "none"


@pytest.mark.parametrize("path, language", [("/lang/ar.html", "ar"), ("/lang/fa.html", "fa"), ("/lang/tr.html", "tr"),
                                            ("/lang/ar-rlm.html", "ar")])
def test_close_scripts_and_marks_get_their_language(run, path, language):
    row = article(run, path)
    assert (row["language"], row["language_score"]) == (language, 1.0)


def test_a_language_langdetect_does_not_know_is_undetermined(run):
    # Kurdish: no langdetect profile; Kurmanji was partitioned as Indonesian ('id', 0.57), Sorani as Persian (0.86)
    for path in ("/lang/ku-latin.html", "/lang/ku-arabic.html"):
        row = article(run, path)
        assert (row["language"], row["language_score"]) == ("und", 0.0), path


def test_pdf_metadata_dates_vaguer_than_a_day_or_malformed_are_no_date(run):
    for path in ("/pdf/d2019.pdf", "/pdf/d0.pdf"):
        row = article(run, path)
        assert (row["published_at"], row["date_source"], row["page_count"]) == (None, "none", 1), path


def test_readable_pdfs_are_articles(run):
    # encrypted with an empty user password: readable, as every viewer opens it; a broken xref is repaired
    assert pdf_samples.SENTENCES[0] in article(run, "/pdf/empty-password.pdf")["text"]
    assert article(run, "/pdf/broken-xref.pdf")["page_count"] == 3


@pytest.mark.parametrize("path, reason, detail", [
    ("/pdf/password.pdf", "pdf_encrypted", "password"),
    ("/pdf/truncated.pdf", "pdf_error", ""),
    ("/pdf/zero-pages.pdf", "pdf_error", ""),
    ("/pdf/zero-bytes.pdf", "pdf_error", "empty body (0 bytes)"),
    ("/pdf/five-pages.pdf", "too_large", "5 pages (limit 4, --max-pdf-pages)"),
    ("/pdf/scanned.pdf", "empty_text", "scanned PDF"),
])
def test_unreadable_pdfs_are_precise_dead_letters(run, path, reason, detail):
    row = dead_letter(run, path)
    assert (row["stage"], row["reason"]) == ("extract", reason) and detail in row["detail"]
