import pytest

from newsbeam.urls import article_id, canonicalize_url, host_key, is_http_url, registered_domain


@pytest.mark.parametrize("listed, canonical", [
    ("HTTP://Example.ORG:80/a/b.html", "http://example.org/a/b.html"),
    ("https://example.org:443/x", "https://example.org/x"),
    ("https://example.org/x?utm_source=rss&utm_medium=feed", "https://example.org/x"),
    ("https://example.org/x?fbclid=abc&gclid=def", "https://example.org/x"),
    ("https://example.org/x#comments", "https://example.org/x"),
    ("https://example.org/story?b=2&a=1", "https://example.org/story?a=1&b=2"),
    ("https://example.org/story?id=42&utm_campaign=x", "https://example.org/story?id=42"),
    ("http://127.0.0.1:8765/articles/a.html?utm_source=rss", "http://127.0.0.1:8765/articles/a.html"),
])
def test_canonicalize_url(listed, canonical):
    assert canonicalize_url(listed) == canonical


def test_different_stories_keep_their_parameters():
    assert canonicalize_url("https://e.org/s?story=1") != canonicalize_url("https://e.org/s?story=2")


def test_article_id_is_stable_and_distinct():
    assert article_id("https://example.org/x") == article_id("https://example.org/x")
    assert article_id("https://example.org/x") != article_id("https://example.org/y")
    # pinned: ids already written must never change meaning
    assert article_id("https://example.org/x") == "bc7ad374981a44c1bf5e82791dc35304"


@pytest.mark.parametrize("value, ok", [
    ("https://example.org/a", True), ("http://127.0.0.1:8000/", True), ("ftp://example.org/", False),
    ("example.org/a", False), ("http://", False), ("http://example.org:99999/", False),
    ("http://exa mple.org/", False), ("javascript:alert(1)", False),
])
def test_is_http_url(value, ok):
    assert is_http_url(value) is ok


@pytest.mark.parametrize("url, key", [
    ("https://Example.org/a", "https://example.org"), ("http://example.org:80/a", "http://example.org"),
    ("http://127.0.0.1:8765/a", "http://127.0.0.1:8765"),
])
def test_host_key(url, key):
    assert host_key(url) == key


@pytest.mark.parametrize("url, domain", [
    ("https://news.bbc.co.uk/x", "bbc.co.uk"), ("https://www.lemonde.fr/x", "lemonde.fr"),
    ("http://127.0.0.1:8765/x", "127.0.0.1"),
])
def test_registered_domain_is_offline(url, domain):
    assert registered_domain(url) == domain
