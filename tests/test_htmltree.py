"""newsbeam.htmltree.parse_html gives trafilatura's `load_html` tree (same markup, same element classes, None where it
gives None) with the element classes looked up in C: on real pages, on generated text, from several threads."""
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from lxml import html as lxml_html
from trafilatura.utils import load_html

from benchmarks import eval_extraction as ev
from tests.corpora import unpacked_corpus
from newsbeam import extraction
from newsbeam.htmltree import parse_html
from tests.test_metadata import FETCHED

TRAFILATURA_PAGES = 200  # of the 990 (the archive is unpacked whole: ~10 s)


def shape(tree):
    if tree is None:
        return None
    return (etree.tostring(tree, encoding="unicode", method="html"),
            [(type(element), element.tag) for element in tree.iter()])


@pytest.fixture(scope="module")
def readability_pages(tmp_path_factory):
    pages = ev.load_readability_set(unpacked_corpus(ev.READABILITY_ARCHIVE, tmp_path_factory))
    return [(page.name, page.html) for page in pages]


@pytest.fixture(scope="module")
def trafilatura_pages(tmp_path_factory):
    pages = ev.trafilatura_subset(unpacked_corpus(ev.TRAFILATURA_ARCHIVE, tmp_path_factory), TRAFILATURA_PAGES)
    return [(page.url, page.html) for page in pages]


def test_real_pages_parse_as_trafilatura_parses_them(readability_pages, trafilatura_pages):
    pages = readability_pages + trafilatura_pages
    assert len(pages) > 300
    special = 0
    for name, html in pages:
        tree = parse_html(html)
        assert shape(tree) == shape(load_html(html)), name
        special += sum(1 for element in tree.iter() if type(element) is not lxml_html.HtmlElement)
    assert special > 100  # forms, inputs, labels...: the classes that differ from HtmlElement are exercised


def test_pages_extract_as_with_trafilaturas_parser(readability_pages, monkeypatch):
    params = extraction.ExtractionSettings(timeout=0)

    def extract_all():
        found = []
        for name, html in readability_pages[:20]:
            try:
                found.append(extraction.extract_page(html, f"http://fakehost/{name}/", params, FETCHED))
            except extraction.EmptyText as error:
                found.append(str(error))
        return found

    ours = extract_all()
    monkeypatch.setattr(extraction, "parse_html", load_html)
    assert extract_all() == ours


def test_no_python_lookup_per_element(readability_pages, monkeypatch):
    calls = []
    original = lxml_html.HtmlElementClassLookup.lookup

    def counted(self, *args):
        calls.append(args)
        return original(self, *args)

    monkeypatch.setattr(lxml_html.HtmlElementClassLookup, "lookup", counted)
    html = readability_pages[0][1]
    assert sum(1 for _ in load_html(html).iter()) and calls  # trafilatura's parser calls it per element
    parse_html(html)  # this thread's parser is made on its first page (reading lxml.html's table of classes)
    calls.clear()
    tree = parse_html(html)
    assert sum(1 for _ in tree.iter()) > 50 and len(etree.XPath("//*")(tree)) > 50
    assert not calls


def test_parsing_in_threads_gives_the_same_trees(readability_pages):
    pages = [html for _, html in readability_pages[:24]]
    expected = [shape(parse_html(html)) for html in pages]
    found = {}

    def work(offset):
        for position in range(offset, len(pages), 4):
            found[position] = shape(parse_html(pages[position]))

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [found[position] for position in range(len(pages))] == expected


MARKUP = st.sampled_from([
    "<html>", "</html>", "<head>", "<body>", "<p>", "</p>", "<form action='x'>", "<input name=a>", "<select>",
    "<option>", "<textarea>", "<label>", "<div class='a'>", "</div>", "<br/>", "<!-- c -->", "<?php x ?>",
    "<?xml version='1.0' encoding='utf-8'?>", '<meta charset="iso-8859-1">', "<html/>", "<!DOCTYPE html>",
    "&amp;", "&#0;", "\x00", "\x0b", "\ud800", "é", "دير الزور", "<svg><path d='M0'/></svg>", "<math>", "<table>",
    "<td>", "<script>var a='<p>';</script>", "<style>p{}</style>", " ", "\n", "text",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(MARKUP, st.text(max_size=8)), max_size=30).map("".join))
def test_generated_text_parses_as_trafilatura_parses_it(text):
    assert shape(parse_html(text)) == shape(load_html(text))
