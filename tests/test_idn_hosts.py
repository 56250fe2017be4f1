"""Host names in one form (newsbeam.urls.canonical_host): international, mixed-case, trailing-dot and invalid hosts."""
import subprocess
import sys

import pyarrow.dataset as ds
import pytest
from urllib.parse import urlsplit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsbeam.sample_site import SampleSite
from newsbeam.seen import SeenIndex, seen_rows, url_key, WRITTEN
from newsbeam.urls import canonical_host, canonicalize_url, host_key, is_http_url


@pytest.mark.parametrize("spellings", [
    ("http://bücher.example/x", "http://xn--bcher-kva.example/x", "http://BÜCHER.Example./x",
     "http://XN--BCHER-KVA.EXAMPLE/x", "http://bu\u0308cher.example/x", "http://bücher\u3002example/x"),
    ("http://straße.example/", "http://xn--strae-oqa.example/"),  # IDNA2008: ß is kept, not folded to ss
    ("http://ＥＸＡＭＰＬＥ.com/a", "http://example.com/a", "http://example.com./a"),
    ("https://münchen.de:8443/a", "https://xn--mnchen-3ya.de:8443/a"),
])
def test_one_host_one_key(spellings):
    """Regression: `xn--strae-oqa`, decomposed accents and full-width letters gave a second canonical URL."""
    assert len({canonicalize_url(url) for url in spellings}) == 1, [canonicalize_url(url) for url in spellings]
    assert len({host_key(url) for url in spellings}) == 1  # one server, one politeness unit
    assert all(is_http_url(url) for url in spellings)


def test_the_canonical_host_is_shown_in_unicode():
    assert canonicalize_url("http://XN--BCHER-KVA.example/x") == "http://bücher.example/x"
    assert canonical_host("my_host.Example.com.") == "my_host.example.com"  # ASCII labels are only lower-cased
    assert canonical_host("::1") == "::1"


@pytest.mark.parametrize("url", ["http://xn--zz.example/a", "http://💩.example/", "http://a\u200db.example/",
                                 "http://ab--c\u00fc.example/", "http://xn--bcher-kva-.example/"])
def test_invalid_international_hosts_are_not_urls(url):
    assert not is_http_url(url)
    assert canonicalize_url(canonicalize_url(url)) == canonicalize_url(url)


_HOST = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_HOST, st.sampled_from(["", ":8080"]), st.sampled_from(["/", "/a?b=1"]))
def test_canonical_url_never_raises_and_is_idempotent(host, port, rest):
    url = f"http://{host}{port}{rest}"
    key = canonicalize_url(url)
    assert canonicalize_url(key) == key
    if is_http_url(url):
        assert is_http_url(key), key
        once = canonical_host(urlsplit(url).hostname)  # the host as parsed: `À#` is host `à` and a fragment
        assert once is not None and canonical_host(once) == once


def test_seen_state_knows_a_url_under_either_spelling():
    """An article written from its punycode spelling is not fetched again when a feed lists the Unicode one."""
    from datetime import datetime, timezone
    import pyarrow as pa

    now = datetime(2026, 11, 30, tzinfo=timezone.utc)
    listed = "http://xn--strae-oqa.example/a"
    articles = pa.table({"url": [listed], "canonical_url": [canonicalize_url(listed)], "fetched_at": [now]})
    index = SeenIndex(seen_rows("r1", articles, None), now)
    assert index.status(url_key(canonicalize_url("http://straße.example/a"))) == WRITTEN


def test_cli_merges_spellings_and_refuses_invalid_hosts(tmp_path):
    """Through the real CLI: two spellings of one page are one item; an invalid label is `invalid_url`, no crash.
    (The hosts do not resolve: each item ends as one fetch-stage dead letter, which is all this needs.)"""
    urls = tmp_path / "urls.txt"
    urls.write_text("http://xn--strae-oqa.invalid/a\nhttp://straße.invalid/a\nhttp://ＥＸＡＭＰＬＥ.invalid/b\n"
                    "http://example.invalid/b\nhttp://xn--zz.invalid/c\n")
    out = tmp_path / "out"
    with SampleSite():
        done = subprocess.run([sys.executable, "-m", "newsbeam.pipelines.cli", "ingest", "--urls", str(urls),
                               "--output", str(out), "--run-id", "r", "--entities", "off", "--progress", "off",
                               "--retry-backoff", "0.01", "--connect-timeout", "1", "--deadline", "3"],
                              capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 4), done.stderr  # 4: nothing written (these hosts do not resolve)
    dead = ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table().to_pylist()
    invalid = [row for row in dead if row["reason"] == "invalid_url"]
    assert len(invalid) == 1 and "xn--zz.invalid" in invalid[0]["detail"]
    fetched = sorted(canonicalize_url(row["url"]) for row in dead if row["stage"] == "fetch")
    assert fetched == ["http://example.invalid/b", "http://straße.invalid/a"], dead
    assert len(dead) == 3


def test_a_page_canonical_in_the_other_spelling_is_the_same_site():
    from newsbeam.article import page_canonical_url
    listed = canonicalize_url("http://www.xn--bcher-kva.de/x?id=1")
    assert page_canonical_url("http://www.bücher.de/x", "http://www.xn--bcher-kva.de/x?id=1", listed) == \
        "http://www.bücher.de/x"
    assert page_canonical_url("http://www.other.de/x", "http://www.xn--bcher-kva.de/x?id=1", listed) == listed


def test_source_domain_is_one_form_for_one_site():
    """Regression: `source_domain` was `xn--bcher-kva.de` or `bücher.de` depending on the URL's spelling."""
    from newsbeam.schemas.columns import registered_domain
    assert registered_domain("http://news.xn--bcher-kva.de/x") == registered_domain("http://news.BÜCHER.de/y") == \
        "bücher.de"
    assert registered_domain("http://xn--e1afmkfd.xn--p1ai/") == "пример.рф"
    assert registered_domain("http://xn--zz.de/") == "xn--zz.de"  # undecodable: as it is
