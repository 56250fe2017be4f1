"""newsbeam.metadata finds what trafilatura's `extract_metadata` finds (license aside), with less CPU: its Python
predicates select what trafilatura's author, category and tag XPath expressions select, its author search without
the copy of the tree returns trafilatura's `extract_author`, and its categories and tags are `extract_catstags`'s,
on real pages and on generated ones."""
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trafilatura.metadata import extract_author, extract_catstags, extract_metadata
from trafilatura.settings import Document
from trafilatura.utils import load_html
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS, CATEGORIES_XPATHS, TAGS_XPATHS

from benchmarks import eval_extraction as ev
from tests.corpora import unpacked_corpus
from newsbeam.extraction import ExtractionSettings, _date_params
from newsbeam.metadata import (
    _links,
    author_candidates,
    categories_or_tags,
    find_author,
    link_containers,
    page_metadata,
    page_title,
    undated_author,
)

FETCHED = datetime(2030, 1, 1, tzinfo=timezone.utc)
PAGES = 70  # of Mozilla Readability's test pages (~4 s)


def _same_selection(tree):
    found = author_candidates(tree)
    assert found is not None
    *expressions, discard = found
    for expression, selected in zip(AUTHOR_XPATHS, expressions):
        assert selected == expression(tree)
    assert set(discard) == {node for expression in AUTHOR_DISCARD_XPATHS for node in expression(tree)}


def _same_links(tree):
    categories, tags = link_containers(tree)
    for expressions, containers, metatype in ((CATEGORIES_XPATHS, categories, "category"), (TAGS_XPATHS, tags, "tag")):
        assert len(expressions) == len(containers)
        for expression, found in zip(expressions, containers):
            assert _links(found) == expression(tree)
        assert categories_or_tags(tree, metatype, containers) == extract_catstags(metatype, tree)


def _fields(document: Document) -> dict:
    # the empty body elements trafilatura's Document starts with are new objects each time
    return {slot: getattr(document, slot) for slot in Document.__slots__ if slot not in ("license", "body",
                                                                                          "commentsbody")}


@pytest.fixture(scope="module")
def corpus_trees(tmp_path_factory):
    # small: quick to unpack
    pages = ev.load_readability_set(unpacked_corpus(ev.READABILITY_ARCHIVE, tmp_path_factory))
    return [(f"http://fakehost/{page.name}/", page.html) for page in pages[:PAGES]]


def test_real_pages_get_trafilaturas_metadata(corpus_trees):
    params = _date_params(ExtractionSettings(timeout=0), FETCHED)
    searched = 0
    for url, html in corpus_trees:
        tree = load_html(html)
        if tree is None:
            continue
        if author_candidates(tree) is not None:
            _same_selection(tree)
            _same_links(tree)
        assert find_author(tree) == extract_author(tree), url
        searched += bool(find_author(tree))
        assert _fields(page_metadata(tree, url, params)) == _fields(extract_metadata(tree, url, params)), url
    assert searched > 10  # the markup search is exercised, not only the meta tags


def test_the_license_is_not_searched():
    tree = load_html('<html><body><article><p>Text</p></article><footer><a rel="license" '
                     'href="https://creativecommons.org/licenses/by-sa/4.0/">CC</a></footer></body></html>')
    assert extract_metadata(tree, None, None).license == "CC BY-SA 4.0"
    assert page_metadata(tree, None, {}).license is None


def test_a_byline_with_a_date_inside_reads_as_trafilatura_prunes_it():
    # the <time> and the comments link are deleted, their tails kept (joined to what precedes them, no space)
    html = ('<html><body><div class="byline">By <a href="/jane">Jane Roe</a><time>May 5</time>, staff'
            '<span class="comments">3 comments</span>writer</div><p>Text.</p></body></html>')
    tree = load_html(html)
    assert find_author(tree) == extract_author(load_html(html)) == "Jane Roe; Staffwriter"


def test_pages_with_rel_elements_take_trafilaturas_own_search():
    tree = load_html('<html><body><span class="x"><rel>me</rel>Jane Roe</span><p>Text</p></body></html>')
    assert author_candidates(tree) is None
    assert find_author(tree) == extract_author(tree)


def test_a_subtree_is_searched_as_trafilatura_searches_it():
    tree = load_html('<html><body><div><p class="byline">Jane Roe</p></div><p>Text</p><div class="tags">'
                     '<a href="/tag/x">X</a></div></body></html>')
    subtree = tree.find(".//div")
    # not the document's root: trafilatura's own searches (its expressions look at the whole document)
    assert author_candidates(subtree) is None and link_containers(subtree) is None
    assert find_author(subtree) == extract_author(subtree)
    assert page_metadata(subtree, None, {}).tags == extract_metadata(subtree, None, None).tags == ["X"]


# generated pages: the class, id and other attribute values the expressions test, nested at random
TOKENS = ["postinfo", "post-meta", "meta", "metadata", "entry-meta", "entry-info", "entry-utility", "entry-footer",
          "entry-categories", "entry-tags", "postmeta", "postpath", "filedunder", "tags", "tag-list", "row",
          "jp-relatedposts", "post-category", "cat-links", "entry-header", "topics", "tags-links", "author", "Author",
          "authorName", "author-name", "AuthorName", "byline", "Byline", "byl", "BBL", "username",
          "writer", "screenname", "zuozhe", "posted-by", "journalist-name", "comments", "Comments", "comments-list",
          "commentlist", "comment-list", "sidebar", "is-hidden", "quote", "print", "category", "meta-date", "date",
          "title", "article-share", "ProductReviews", "FigureBox", "x", "main", "me", "author name"]
TAGS = ["div", "span", "a", "p", "section", "address", "strong", "link", "h3", "h4", "li", "time", "figure", "author",
        "article", "em", "footer", "header", "a", "a"]
ATTRIBUTES = ["class", "id", "rel", "itemprop", "data-testid", "data-component"]
WORDS = st.sampled_from(["", "", "Jane Roe", "By", " ", "staff", "3 comments", "May 5, 2020", ",", "x" * 130])
attribute_values = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=2).map(" ".join)


@st.composite
def elements(draw, depth=0):
    tag = draw(st.sampled_from(TAGS))
    attributes = draw(st.dictionaries(st.sampled_from(ATTRIBUTES), attribute_values, max_size=2))
    if draw(st.booleans()) and "data-testid" in attributes:
        attributes["data-testid"] = draw(st.sampled_from(["AuthorCard", "AuthorURL"]))
    if tag == "a" and draw(st.booleans()):
        attributes["href"] = draw(st.sampled_from(["", "/category/news/", "/tags/x/", "/tag/y", "/about/", "#"]))
    children = draw(st.lists(elements(depth + 1), max_size=3)) if depth < 3 else []
    markup = "".join(f' {name}="{value}"' for name, value in attributes.items())
    inner = draw(WORDS) + "".join(child + draw(WORDS) for child in children)
    return f"<{tag}{markup}>{inner}</{tag}>" if tag != "link" else f"<link{markup}>{inner}"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(elements(), min_size=1, max_size=4))
def test_generated_pages_get_trafilaturas_author_categories_and_tags(body):
    html = f"<html><head><title>t</title></head><body>{''.join(body)}<p>Some text here.</p></body></html>"
    tree = load_html(html)
    if tree is None:
        return
    _same_selection(tree)
    _same_links(tree)
    assert find_author(tree) == extract_author(load_html(html))


@pytest.mark.parametrize("heading", [
    "<h1><a href='/'>Courier</a></h1>",  # the site's logo, linking home
    "<h1><a href='https://courier.example/'><img src='logo.png' alt=''>Courier</a></h1>",
])
def test_a_logo_h1_is_not_the_pages_title(heading):
    # trafilatura takes a page's only <h1> for its title: here the site's logo
    html = (f"<html><head><title>Harbour budget agreed | Courier</title></head><body><header>{heading}</header>"
            "<article><h2 class='story'>Harbour budget agreed</h2><p>The council met.</p></article></body></html>")
    tree = load_html(html)
    assert page_metadata(tree, None, {}).title == "Courier"  # as trafilatura's extract_metadata
    assert page_title(tree, "Courier") == "Harbour budget agreed"


def test_a_footer_h1_is_not_the_pages_title():
    html = ("<html><head><title>Tarot cards</title></head><body><article><h2>The deck of cards</h2></article>"
            "<footer><h1>See fewer ads</h1></footer></body></html>")
    assert page_title(load_html(html), "See fewer ads") == "Tarot cards"


@pytest.mark.parametrize("html, title", [
    # a headline that links to its own article, and a lone headline that is the title
    ("<html><head><title>Courier</title></head><body><h1><a href='/2024/budget.html'>Budget agreed</a></h1></body>"
     "</html>", "Budget agreed"),
    ("<html><head><title>Courier</title></head><body><h1>Budget agreed</h1></body></html>", "Budget agreed"),
    # a title from the meta tags that is not a logo's text stays
    ("<html><head><title>Budget | Courier</title></head><body><h1><a href='/'>Courier</a></h1></body></html>",
     "Budget agreed at last"),
])
def test_other_titles_stay(html, title):
    assert page_title(load_html(html), title) == title



@pytest.mark.parametrize("byline, author, expected", [
    # trafilatura drops a byline date's digits, not its month
    ("<p class='author'>Joshua Sokol<br>May 20, 2019</p>", "Joshua Sokol May", "Joshua Sokol"),
    ("<p class='author'>Joshua Sokol<br>May 4, 2020</p>", "Joshua Sokol May 4", "Joshua Sokol"),
    ("<p>Nathan Willis\n March 25th, 2015</p>", "Ann Lee; Nathan Willis March", "Ann Lee; Nathan Willis"),
    # a name that ends like a month stays where no whole date follows it
    ("<p class='author'>Theresa May</p><p>Theresa May 4 times said no.</p>", "Theresa May", "Theresa May"),
    ("<p class='author'>Brian May</p>", "Brian May", "Brian May"),
])
def test_a_bylines_date_is_not_part_of_the_name(byline, author, expected):
    tree = load_html(f"<html><body><article><h1>Budget</h1>{byline}<p>The council met.</p></article></body></html>")
    assert undated_author(tree, author) == expected
