"""The hostile web through the real CLI: `newsbeam ingest` against raw-socket servers on 127.0.0.1 that misbehave
byte by byte (slow, broken, compressed, redirected, mis-encoded, robots.txt in every form). Each URL must end as
exactly one article or one dead letter with a precise reason, nothing may leak past robots.txt, and the per-host
delay must hold across resets and retries. Two runs of the command serve every case (see tests/hostile.py)."""
import contextlib
import gzip
import subprocess
import sys
import time
import tracemalloc
import zlib
from dataclasses import replace

import pyarrow.dataset as ds
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from newsbeam import reasons
from newsbeam.fetching import (HTML_ACCEPT, ConcurrentFetcher, FetchContext, PoliteFetcher, RobotsCache, html_only,
                               redirect_target)
from newsbeam.http import FetchError, HttpClient, _decoder, unsupported_coding
from newsbeam.sample_site.arrival import SLACK
from newsbeam.schemas.records import FetchRequest
from newsbeam.urls import is_http_url
from tests.conftest import FAST
from tests.faults import FRENCH, article_html, encode_body
from tests.hostile import HostileServer, answer, drip, gzip_bomb, hang, page, raw, reset_after

NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli", "ingest", "--read-timeout", "1", "--retry-backoff",
            "0.01", "--connect-timeout", "1", "--allow-private-addresses", "--entities", "gazetteer"]
ARTICLE = "article"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
FRENCH_TITLE = "Procès à Paris"
FRENCH_PAGE = article_html(FRENCH_TITLE, FRENCH)  # enough French text for detection when the labels lie


def ok(title):
    return answer(body=page(title))


def _redirect(location, status="302 Found"):
    return answer(status, headers=(("Location", location),))


def _bomb():
    return answer(body=gzip_bomb(0.1), headers=(("Content-Encoding", "gzip"),))


# path -> (route, expected: ARTICLE or a dead letter's reason). Titles are the path, so a row names its case.
BYTES_CASES = {
    "/ok.html": (ok, ARTICLE),
    # 1. slow and broken servers
    "/hang.html": (lambda t: hang, reasons.TIMEOUT),
    "/slowloris-headers.html": (lambda t: drip(b"HTTP/1.1 200 OK\r\nX-A: ", b"a"), reasons.TIMEOUT),
    "/slowloris-body.html": (lambda t: drip(HEAD + b"Content-Length: 100000\r\n\r\n", b"<"), reasons.TIMEOUT),
    "/reset-mid-body.html": (lambda t: reset_after(HEAD + b"Content-Length: 9000\r\n\r\n" + page(t)[:500]),
                             reasons.CONNECTION_ERROR),
    "/length-larger.html": (lambda t: raw(HEAD + b"Content-Length: 100000\r\n\r\n" + page(t)),
                            reasons.CONNECTION_ERROR),
    "/length-smaller.html": (lambda t: raw(HEAD + b"Content-Length: 100\r\n\r\n" + page(t)), reasons.EMPTY_TEXT),
    "/bad-chunk-size.html": (lambda t: raw(HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
                             reasons.CONNECTION_ERROR),
    "/gzip-corrupt.html": (lambda t: answer(body=gzip.compress(page(t))[:40] + b"junk" * 50,
                                            headers=(("Content-Encoding", "gzip"),)), reasons.DECODE_ERROR),
    "/gzip-bomb.html": (lambda t: _bomb(), reasons.TOO_LARGE),
    # no length: the body ends when the connection closes, and only its gzip stream shows that it was cut
    "/gzip-cut-no-length.html": (lambda t: raw(HEAD + b"Content-Encoding: gzip\r\nConnection: close\r\n\r\n"
                                                + gzip.compress(page(t))[:-300]), reasons.CONNECTION_ERROR),
    "/gzip-no-length.html": (lambda t: raw(HEAD + b"Content-Encoding: gzip\r\nConnection: close\r\n\r\n"
                                            + gzip.compress(page(t))), ARTICLE),
    "/gzip-empty.html": (lambda t: raw(HEAD + b"Content-Encoding: gzip\r\nContent-Length: 0\r\n\r\n"),
                         reasons.EMPTY_TEXT),
    "/br.html": (lambda t: answer(body=b"\x1b\x2e\x00\xf8\x8d\x94\x6e\xde\x44" * 40,
                                  headers=(("Content-Encoding", "br"),)), reasons.DECODE_ERROR),
    "/zstd.html": (lambda t: answer(body=b"\x28\xb5\x2f\xfd" + bytes(range(256)) * 4,
                                    headers=(("Content-Encoding", "zstd"),)), reasons.DECODE_ERROR),
    "/gzip-twice.html": (lambda t: answer(body=gzip.compress(gzip.compress(page(t))),
                                          headers=(("Content-Encoding", "gzip, gzip"),)), reasons.DECODE_ERROR),
    "/transfer-gzip.html": (lambda t: raw(HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + b"%x\r\n" % len(
        gzip.compress(page(t))) + gzip.compress(page(t)) + b"\r\n0\r\n\r\n"), reasons.DECODE_ERROR),
    "/unknown-coding.html": (lambda t: answer(body=page(t), headers=(("Content-Encoding", "x-custom"),)), ARTICLE),
    "/raw-deflate.html": (lambda t: answer(body=zlib.compress(page(t))[2:-4],
                                           headers=(("Content-Encoding", "deflate"),)), ARTICLE),
    "/10mb-header.html": (lambda t: raw(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (10 << 20) + b"\r\n\r\n"),
                          reasons.CONNECTION_ERROR),
    "/1000-headers.html": (lambda t: raw(b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(1000))
                                         + b"\r\n" + page(t)), reasons.CONNECTION_ERROR),
    "/http10-no-length.html": (lambda t: raw(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + page(t)),
                               ARTICLE),
    "/100-continue.html": (lambda t: raw(b"HTTP/1.1 100 Continue\r\n\r\n" + HEAD + b"Connection: close\r\n\r\n"
                                         + page(t)), ARTICLE),
    # regression: any 1xx but 100 was taken for the final answer (`http_103`) and the page after it lost
    "/103-early-hints.html": (lambda t: raw(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                                            + HEAD + b"Connection: close\r\n\r\n" + page(t)), ARTICLE),
    "/102-processing.html": (lambda t: raw(b"HTTP/1.1 102 Processing\r\n\r\n" + HEAD + b"Connection: close\r\n\r\n"
                                           + page(t)), ARTICLE),
    "/endless-103.html": (lambda t: drip(b"", b"HTTP/1.1 103 Early Hints\r\n\r\n"), reasons.TIMEOUT),
    "/304-unasked.html": (lambda t: answer("304 Not Modified", content_type=None), "http_304"),
    # 3. redirects
    "/redirect-loop.html": (lambda t: _redirect("/redirect-loop.html"), reasons.TOO_MANY_REDIRECTS),
    "/redirect-file.html": (lambda t: _redirect("file:///etc/passwd"), reasons.BAD_REDIRECT),
    "/redirect-ftp.html": (lambda t: _redirect("ftp://example.org/x"), reasons.BAD_REDIRECT),
    "/redirect-data.html": (lambda t: _redirect("data:text/html,<p>hi</p>"), reasons.BAD_REDIRECT),
    "/redirect-no-location.html": (lambda t: answer("302 Found"), reasons.BAD_REDIRECT),
    "/redirect-not-a-url.html": (lambda t: _redirect("http://[::1/x"), reasons.BAD_REDIRECT),  # was internal_error
    "/redirect-relative.html": (lambda t: _redirect("ok.html"), ARTICLE),
    "/redirect-space.html": (lambda t: _redirect("/with space.html", "301 Moved"), ARTICLE),
    "/redirect-utf8.html": (lambda t: answer("301 Moved", headers=(("Location", "/café.html".encode()),)), ARTICLE),
    "/redirect-latin1.html": (lambda t: answer("301 Moved", headers=(("Location", "/café.html".encode("latin-1")),)),
                              ARTICLE),
    "/redirect-to-disallowed.html": (lambda t: _redirect("/private/leak.html"), reasons.ROBOTS_DISALLOWED),
    "/redirect-300.html": (lambda t: _redirect("/ok.html", "300 Multiple Choices"), "http_300"),
    # 4. odd bytes
    "/header-latin1-body-utf8.html": (lambda t: answer(body=FRENCH_PAGE,
                                                       content_type="text/html; charset=iso-8859-1"), ARTICLE),
    "/header-utf8-body-cp1252.html": (lambda t: answer(body=FRENCH_PAGE.decode().encode("cp1252")
                                                       .replace(b"<meta charset='utf-8'>", b"")), ARTICLE),
    "/bom-against-header.html": (lambda t: answer(body=b"\xef\xbb\xbf" + FRENCH_PAGE,
                                                  content_type="text/html; charset=iso-8859-1"), ARTICLE),
    "/charset-unknown.html": (lambda t: answer(body=page(t), content_type="text/html; charset=unknown"), ARTICLE),
    "/utf16-bom.html": (lambda t: answer(body=page(t).decode().encode("utf-16"),
                                         content_type="text/html; charset=utf-16"), ARTICLE),
    "/utf16le-no-bom.html": (lambda t: answer(body=page(t).decode().encode("utf-16-le"),
                                              content_type="text/html; charset=utf-16le"), ARTICLE),
    "/nul-bytes.html": (lambda t: answer(body=page(t).replace(b"<p>", b"<p>\0", 3)), ARTICLE),
    "/invalid-utf8-headers.html": (lambda t: answer(body=page(t), headers=(("X-Bad", b"\xff\xfe\xc3"),
                                                                          ("Set-Cookie", b"a=\xe9"))), ARTICLE),
    # regression: a non-ASCII reason phrase or header name stopped the whole run in the WARC writer
    "/reason-non-ascii.html": (lambda t: raw(b"HTTP/1.1 200 Ok\xe9 \xff\r\nContent-Type: text/html\r\n\r\n" + page(t)),
                               ARTICLE),
    "/header-name-non-ascii.html": (lambda t: raw(HEAD + b"X-N\xe9me: v\r\n\r\n" + page(t)), ARTICLE),
    "/header-controls.html": (lambda t: raw(HEAD + b"X-Ctl: a\x01b\x7f\r\n\r\n" + page(t)), ARTICLE),
    "/content-type-twice.html": (lambda t: answer(body=page(t), headers=(("Content-Type", "text/html"),)), ARTICLE),
    "/content-type-odd.html": (lambda t: answer(body=page(t), content_type='text/html; x="a;b"; charset="utf-8"; '
                                                                           'charset=latin1'), ARTICLE),
}
TARGETS = {"/with%20space.html": "redirect with a space", "/caf%C3%A9.html": "redirect to UTF-8",
           "/caf%E9.html": "redirect to Latin-1", "/private/leak.html": "LEAK",
           "/caf%C3%A9-listed.html": "listed with a non-ASCII path"}


def _run(urls, tmp, *flags):
    listing = tmp / "urls.txt"
    listing.write_text("".join(url + "\n" for url in urls))
    out = tmp / "out"
    done = subprocess.run([*NEWSBEAM, "--urls", str(listing), "--output", str(out), *flags], capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    archived = 0
    for warc in sorted(out.glob("warc/**/*.warc.gz")):  # the archive of a hostile run reads back
        with warc.open("rb") as stream:
            archived += sum(record.rec_type == "response" for record in ArchiveIterator(stream))
    assert archived > 0
    articles = ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table().to_pylist()
    dead = ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table().to_pylist()
    return articles, dead


def _by_path(rows, base):
    found = {}
    for row in rows:
        path = row["url"][len(base):]
        assert path not in found, f"{path} has two rows"
        found[path] = row
    return found


@pytest.fixture(scope="module")
def bytes_run(tmp_path_factory):
    """One `newsbeam ingest` over every BYTES_CASES URL (and a listed non-ASCII URL), deadline 3 s."""
    routes = {path: make(path) for path, (make, _) in BYTES_CASES.items()}
    routes.update({path: ok(title) for path, title in TARGETS.items()})
    routes["/robots.txt"] = answer(body=b"User-agent: *\nDisallow: /private\n", content_type="text/plain")
    with HostileServer(routes) as server:
        urls = [server.url(path) for path in BYTES_CASES] + [server.url("/café-listed.html")]
        articles, dead = _run(urls, tmp_path_factory.mktemp("bytes"), "--host-delay", "0", "--deadline", "3",
                              "--max-bytes", "2000000")
        requested = server.paths()
    return _by_path(articles, server.base_url), _by_path(dead, server.base_url), requested


@pytest.mark.parametrize("path", sorted(BYTES_CASES))
def test_each_hostile_answer_ends_as_one_row_with_a_precise_reason(bytes_run, path):
    articles, dead, _ = bytes_run
    expected = BYTES_CASES[path][1]
    if expected == ARTICLE:
        assert path in articles and path not in dead, dead.get(path)
    else:
        assert path not in articles and dead[path]["reason"] == expected, dead[path]


def test_the_whole_run_is_accounted_for(bytes_run):
    articles, dead, requested = bytes_run
    assert len(articles) + len(dead) == len(BYTES_CASES) + 1
    assert not any(path.startswith("/private") for path in requested)  # redirects cannot dodge robots.txt


def test_odd_bytes_decode_to_the_right_text(bytes_run):
    articles = bytes_run[0]
    for path in ("/header-latin1-body-utf8.html", "/header-utf8-body-cp1252.html", "/bom-against-header.html"):
        assert articles[path]["title"] == FRENCH_TITLE, path
    assert "\0" not in articles["/nul-bytes.html"]["text"]


def test_non_ascii_and_spaces_in_urls_are_percent_encoded(bytes_run):
    """Regression: a Location with a space was `bad_redirect`; a UTF-8 one was requested as `/caf%C3%83%C2%A9`
    (its Latin-1 reading, encoded again); a listed `/café` URL crashed the whole run in the WARC writer."""
    articles, _, requested = bytes_run
    assert articles["/redirect-space.html"]["title"] == TARGETS["/with%20space.html"]
    assert articles["/redirect-utf8.html"]["title"] == TARGETS["/caf%C3%A9.html"]
    assert articles["/redirect-latin1.html"]["title"] == TARGETS["/caf%E9.html"]
    assert articles["/café-listed.html"]["title"] == TARGETS["/caf%C3%A9-listed.html"]
    assert "/caf%C3%83%C2%A9.html" not in requested


def test_slow_and_reset_answers_are_bounded_and_resets_retried(bytes_run):
    _, dead, requested = bytes_run
    assert all(dead[path]["detail"].startswith("total deadline of 3.0s")
               for path in ("/slowloris-headers.html", "/slowloris-body.html", "/endless-103.html"))
    # regression: a reset in the middle of a body was given up at once, unlike one before the response
    assert dead["/reset-mid-body.html"]["attempts"] == 3 == requested.count("/reset-mid-body.html")
    # a malformed answer would come back the same: asked once (headers over the limits were asked 3 times)
    assert [requested.count(path) for path in ("/length-larger.html", "/10mb-header.html", "/1000-headers.html")] == [
        1, 1, 1]


# --- robots.txt and politeness, several hosts at once ----------------------------------------------------------

def _robots(text):
    return answer(body=text if isinstance(text, bytes) else text.encode(), content_type="text/plain")


@pytest.fixture(scope="module")
def polite_run(tmp_path_factory):
    """robots.txt in every form, a host that resets once, a host that never answers and a quick host, with
    --host-delay 0.3 and --host-concurrency 2."""
    hosts = {
        "503": {"/robots.txt": answer("503 Service Unavailable", b"busy"), "/a.html": ok("LEAK 503")},
        "404": {"/robots.txt": answer("404 Not Found"), "/a.html": ok("robots 404")},
        "moved": {"/a.html": ok("robots moved, page allowed"), "/secret/b.html": ok("LEAK moved")},
        "target": {"/robots.txt": _robots("User-agent: *\nDisallow: /secret\n"), "/secret/x.html": ok("LEAK cross")},
        "big": {"/robots.txt": _robots("User-agent: *\nDisallow: /early\n" + "# pad\n" * ((2 << 20) // 6)
                                       + "Disallow: /late\n"),
                "/early/a.html": ok("LEAK early"), "/late/a.html": ok("past 500 KiB")},
        "bom": {"/robots.txt": _robots(b"\xef\xbb\xbfUser-agent: *\nDisallow: /\n"), "/a.html": ok("LEAK bom")},
        "rules": {"/robots.txt": _robots("User-agent: *\nDisallow: /a\nAllow: /a/b\nDisallow: /*.pdf$\n"
                                         "Disallow: /p%C3%A9\nCrawl-delay: 0.6\n"),
                  "/a/b/c.html": ok("longer allow wins"), "/a/x.html": ok("LEAK a"), "/doc.pdf": ok("LEAK pdf"),
                  "/doc.pdf.html": ok("dollar anchors"), "/p%C3%A9.html": ok("LEAK pe")},
        "hang-robots": {"/robots.txt": hang, "/a.html": ok("LEAK hang")},
        "robots-not-a-url": {"/robots.txt": _redirect("http://[::1/robots.txt"), "/a.html": ok("LEAK not a URL")},
        "redirector": {"/robots.txt": answer("404 Not Found")},
        "reset": {"/robots.txt": answer("404 Not Found"), "/r.html": None,
                  **{f"/x{i}.html": ok(f"reset host {i}") for i in range(3)}},
        "slow": {"/robots.txt": answer("404 Not Found"), **{f"/h{i}.html": hang for i in range(6)}},
        "quick": {"/robots.txt": answer("404 Not Found"), **{f"/g{i}.html": ok(f"quick {i}") for i in range(3)}},
    }
    resets = []

    def reset_once(conn, stopping):
        resets.append(1)
        if len(resets) == 1:
            return reset_after(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n<html>")(conn, stopping)
        return ok("reset, then served")(conn, stopping)

    hosts["reset"]["/r.html"] = reset_once
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(HostileServer(routes)) for name, routes in hosts.items()}
        hosts["moved"]["/robots.txt"] = _redirect(servers["target"].url("/robots.txt"), "301 Moved")
        hosts["redirector"]["/go.html"] = _redirect(servers["target"].url("/secret/x.html"))
        urls = [server.url(path) for name, server in servers.items() for path in hosts[name]
                if path != "/robots.txt" and name != "target"]
        articles, dead = _run(urls, tmp_path_factory.mktemp("polite"), "--host-delay", "0.3", "--host-concurrency",
                              "2", "--deadline", "2")
        requests = {name: list(server.requests) for name, server in servers.items()}
    return articles, dead, requests, len(urls)


def test_nothing_leaks_past_robots_txt(polite_run):
    articles, dead, requests, listed = polite_run
    assert len(articles) + len(dead) == listed
    assert not [row["title"] for row in articles if "LEAK" in row["title"]]
    served = {name: [path for _, path in seen] for name, seen in requests.items()}
    assert served["503"] == served["bom"] == served["hang-robots"] == served["robots-not-a-url"] == ["/robots.txt"]
    assert set(served["target"]) == {"/robots.txt"}  # as itself and as "moved"'s robots.txt
    assert sorted(served["rules"]) == ["/a/b/c.html", "/doc.pdf.html", "/robots.txt"]
    assert sorted(served["big"]) == ["/late/a.html", "/robots.txt"]
    by_reason = {}
    for row in dead:
        by_reason.setdefault(row["reason"], []).append(row["url"])
    # 5xx, a robots.txt that never answers, one redirected to no URL at all (that was an internal_error)
    assert len(by_reason[reasons.ROBOTS_UNREACHABLE]) == 3
    assert len(by_reason[reasons.ROBOTS_DISALLOWED]) == 7


def _gaps(seen):
    times = sorted(when for when, path in seen if path != "/robots.txt")
    return [b - a for a, b in zip(times, times[1:])]


def test_politeness_holds_across_resets_and_slow_hosts(polite_run):
    _, dead, requests, _ = polite_run
    # the reset request is retried, and every request of the host stays --host-delay apart
    assert [path for _, path in requests["reset"]].count("/r.html") == 2
    assert min(_gaps(requests["reset"])) >= 0.3 - SLACK
    assert min(_gaps(requests["rules"])) >= 0.6 - SLACK  # Crawl-delay: 0.6
    # a host whose requests time out holds up none of another host's (no head-of-line blocking)
    quick = [when for when, path in requests["quick"] if path != "/robots.txt"]
    slow = [when for when, path in requests["slow"] if path != "/robots.txt"]
    assert max(quick) - min(quick) < 1.5 < max(slow) - min(slow)
    assert sum(row["reason"] == reasons.TIMEOUT for row in dead) == 6


# --- the pieces, without the CLI ---------------------------------------------------------------------------------

@pytest.mark.parametrize("location, expected", [
    ("/a b.html", "http://e.org/a%20b.html"),
    ("/café.html".encode().decode("latin-1"), "http://e.org/caf%C3%A9.html"),  # as http.client hands it over
    ("/café.html", "http://e.org/caf%E9.html"),  # Latin-1 bytes on the wire
    ("  /x?q=%41&r=1  ", "http://e.org/x?q=%41&r=1"),
    ("//other.org/p", "http://other.org/p"),
    ("next.html", "http://e.org/dir/next.html"),
])
def test_redirect_targets(location, expected):
    assert redirect_target("http://e.org/dir/page.html", location) == expected


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FF), max_size=30))
@example("/[")  # `//[`: an authority with a bracket and no IPv6 address (found by Hypothesis in CI)
def test_a_redirect_target_is_always_requestable_or_refused_as_no_url(path):
    location = "/" + path.replace("\\", "").replace("#", "")
    try:
        target = redirect_target("http://e.org/dir/page.html", location)
    except ValueError:
        # only a network-path reference whose host is no host: the fetch makes it a dead letter 'bad_redirect'
        assert location.startswith("//") and ("[" in location or "]" in location)
        return
    assert target.isascii() and " " not in target and is_http_url(target)


@pytest.mark.parametrize("coding, refused", [
    ("gzip", False), ("deflate", False), ("identity", False), ("", False), ("x-custom", False), ("br", True),
    ("zstd", True), ("compress", True), ("gzip, br", True), ("identity, gzip", False),
])
def test_codings_that_cannot_be_decoded_are_named(coding, refused):
    assert bool(unsupported_coding(coding)) == refused
    assert unsupported_coding("", "gzip, chunked") and bool(unsupported_coding(coding, " Chunked")) == refused


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=20000), coding=st.sampled_from(["gzip2", "deflate", "raw-deflate"]),
       room=st.integers(min_value=1, max_value=3000), cut=st.integers(min_value=1, max_value=700))
def test_the_bounded_decoder_gives_the_body_in_pieces_of_at_most_room(body, coding, room, cut):
    encoded = encode_body(body, coding)
    decode = _decoder("deflate" if "deflate" in coding else "gzip")
    out = []
    for position in range(0, len(encoded), cut):
        out.append(decode(encoded[position:position + cut], False, room))
        while len(out[-1]) == room:  # the rest waits inside the decoder until asked for
            out.append(decode(b"", False, room))
    out.append(decode(b"", True))
    assert all(len(piece) <= room for piece in out[:-1])
    assert b"".join(out) == body and decode.complete


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=20000), coding=st.sampled_from(["gzip", "deflate", "raw-deflate"]),
       keep=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_the_decoder_knows_a_stream_cut_short(body, coding, keep):
    """A close-delimited body cut anywhere before its stream's end is not taken for the whole body (cut before
    its first byte, it is an empty body, which needs no stream)."""
    encoded = encode_body(body, coding)
    decode = _decoder("deflate" if "deflate" in coding else "gzip")
    try:
        decode(encoded[:max(1, int(keep * len(encoded)))], True)
    except zlib.error:
        return  # a cut that leaves no valid stream at all is a decode error: not a whole body either
    assert not decode.complete


def test_a_gzip_body_cut_by_the_close_is_an_error_and_archived_as_truncated():
    sent = gzip.compress(page("/cut"))[:-300]
    cut = raw(HEAD + b"Content-Encoding: gzip\r\nConnection: close\r\n\r\n" + sent)
    with HostileServer({"/cut": cut}) as server:
        with pytest.raises(FetchError) as failed:
            HttpClient(FAST).get(server.url("/cut"))
    assert failed.value.reason == reasons.CONNECTION_ERROR and "inside the body's gzip stream" in failed.value.detail
    assert (failed.value.raw.body, failed.value.raw.truncated) == (sent, "disconnect")  # what the WARC record holds


def test_a_gzip_bomb_costs_no_more_memory_than_the_cap():
    """Regression: each 64 KiB read of a 1,000:1 gzip body was inflated whole (~64 MB) before the size check."""
    limit = 1 << 20
    with HostileServer({"/bomb": _bomb()}) as server:
        client = HttpClient(replace(FAST, max_bytes=limit, deadline=20, read_timeout=10))
        tracemalloc.start()
        try:
            with pytest.raises(FetchError) as refused:
                client.get(server.url("/bomb"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert refused.value.reason == reasons.TOO_LARGE
    assert peak < 8 * limit, peak


def test_hosts_that_hang_do_not_hold_up_the_hosts_after_them():
    """Regression: a lane kept its thread for all of its host's URLs, so two hosts whose requests hang until the
    read timeout held the 4 threads for 4 timeouts in a row, and a quick host queued after them waited for all
    of it (with production timeouts and a few dead hosts, minutes for every other host of the run)."""
    settings = replace(FAST, read_timeout=0.5, deadline=5, host_concurrency=2, max_connections=4,
                       host_failure_limit=0)  # every slow URL waits out its timeout here
    with contextlib.ExitStack() as stack:
        slow = [stack.enter_context(HostileServer({f"/h{i}": hang for i in range(8)})) for _ in range(2)]
        quick = stack.enter_context(HostileServer({f"/q{i}": ok("quick") for i in range(3)}))
        fetcher = ConcurrentFetcher(FetchContext(settings))
        started = time.monotonic()
        for server in slow:
            fetcher.submit([FetchRequest(server.url(f"/h{i}"), context=None) for i in range(8)], HTML_ACCEPT,
                           html_only, "slow")
        fetcher.submit([FetchRequest(quick.url(f"/q{i}"), context=None) for i in range(3)], HTML_ACCEPT, html_only,
                       "quick")
        finished = {tag: [] for tag in ("slow", "quick")}
        for tag, outcome in fetcher.drain():
            finished[tag].append((time.monotonic() - started, type(outcome).__name__))
        fetcher.close()
    assert [name for _, name in finished["quick"]] == ["FetchedPage"] * 3
    assert len(finished["slow"]) == 16
    # the slow hosts' 16 timeouts take 4 rounds of 0.5 s on 4 threads; the quick host is done after the first
    assert max(when for when, _ in finished["quick"]) < 1.4 < max(when for when, _ in finished["slow"])


def test_an_unreachable_robots_txt_is_asked_again_before_a_day_has_passed():
    """Regression: one 503 on robots.txt disallowed the host for the cache's whole day (a streaming run's)."""
    answers = [answer("503 Service Unavailable", b"busy"), _robots("User-agent: *\nDisallow: /secret\n")]
    with HostileServer({"/robots.txt": lambda conn, stopping: answers.pop(0)(conn, stopping)}) as server:
        context = FetchContext(FAST)
        robots = RobotsCache(context.client, context.gates, error_ttl=0.2)
        assert robots.check(server.url("/a.html")).reason == reasons.ROBOTS_UNREACHABLE
        assert robots.check(server.url("/b.html")).reason == reasons.ROBOTS_UNREACHABLE  # cached meanwhile
        time.sleep(0.3)
        assert robots.check(server.url("/a.html")) is None
        assert robots.check(server.url("/secret/a.html")).reason == reasons.ROBOTS_DISALLOWED
        assert server.paths() == ["/robots.txt", "/robots.txt"]


# --- a host's circuit breaker ------------------------------------------------------------------------------------

def test_a_host_that_stops_answering_costs_a_few_timeouts_not_one_per_url(tmp_path):
    """Regression: every URL of a host that no longer answers waited out its own timeout, so a host that went down
    mid-run with thousands of listed URLs held the run for hours. Now, after --host-failure-limit attempts in a row
    without any answer, its other URLs are dead letters `host_unreachable`, never requested; another host is
    unaffected. Through the real CLI: each URL is one row."""
    with HostileServer({"/robots.txt": answer("404 Not Found"), **{f"/h{i}.html": hang for i in range(30)}}) as down, \
            HostileServer({"/robots.txt": answer("404 Not Found"),
                           **{f"/g{i}.html": ok(f"quick {i}") for i in range(3)}}) as up:
        urls = [down.url(f"/h{i}.html") for i in range(30)] + [up.url(f"/g{i}.html") for i in range(3)]
        started = time.monotonic()
        articles, dead = _run(urls, tmp_path, "--read-timeout", "0.3", "--host-delay", "0", "--host-failure-limit",
                              "3", "--max-attempts", "1", "--entities", "off")
        elapsed = time.monotonic() - started
        requested = [path for _, path in down.requests if path != "/robots.txt"]
    assert sorted(row["url"] for row in articles) == sorted(urls[30:])
    assert sorted(row["url"] for row in dead) == sorted(urls[:30])
    timeouts = [row for row in dead if row["reason"] == reasons.TIMEOUT]
    refused = [row for row in dead if row["reason"] == reasons.HOST_UNREACHABLE]
    # the third failure opens the circuit; a fourth request may already be on its way beside it
    assert len(timeouts) in (3, 4) and len(requested) == len(timeouts) and len(refused) == 30 - len(timeouts)
    assert all("attempts in a row got no answer" in row["detail"] for row in refused)
    assert all(row["warc_filename"] is None for row in refused)  # nothing was sent, nothing archived
    assert elapsed < 60  # 30 timeouts of 0.3 s two at a time would be ~4.5 s; mostly Beam's start-up here


def test_after_the_pause_one_request_probes_the_host_and_an_answer_lets_the_rest_through():
    state = {"down": True}

    def flaky(conn, stopping):
        return (hang if state["down"] else ok("back"))(conn, stopping)

    settings = replace(FAST, read_timeout=0.2, host_delay=0, host_failure_limit=2,
                       host_failure_pause=0.6)
    with HostileServer({"/robots.txt": answer("404 Not Found"), **{f"/p{i}": flaky for i in range(9)}}) as server:
        context = FetchContext(settings)
        fetcher = PoliteFetcher(context.client, context.gates, context.robots)

        def fetch(i):
            return fetcher.fetch(FetchRequest(server.url(f"/p{i}"), context=None), HTML_ACCEPT, html_only)

        assert [(outcome.reason, outcome.attempts) for outcome in (fetch(0), fetch(1), fetch(2))] == [
            (reasons.TIMEOUT, 1), (reasons.TIMEOUT, 1), (reasons.HOST_UNREACHABLE, 0)]  # two unanswered: open
        time.sleep(0.7)
        probe = fetch(3)  # still down: the probe fails and the circuit opens again at once
        assert (probe.reason, probe.attempts) == (reasons.TIMEOUT, 1)
        assert fetch(4).reason == reasons.HOST_UNREACHABLE
        state["down"] = False
        assert fetch(5).reason == reasons.HOST_UNREACHABLE  # up again, but the pause has not passed
        time.sleep(0.7)
        assert [type(fetch(i)).__name__ for i in (6, 7, 8)] == ["FetchedPage"] * 3  # the probe, then the rest
        requested = [path for _, path in server.requests if path != "/robots.txt"]
    assert requested == ["/p0", "/p1", "/p3", "/p6", "/p7", "/p8"]


def test_answers_of_any_status_keep_a_host_open():
    settings = replace(FAST, max_attempts=1, host_delay=0, host_failure_limit=1)
    with HostileServer({"/robots.txt": answer("404 Not Found"), "/e": answer("503 Service Unavailable"),
                        "/n": answer("404 Not Found")}) as server:
        context = FetchContext(settings)
        fetcher = PoliteFetcher(context.client, context.gates, context.robots)
        found = [fetcher.fetch(FetchRequest(server.url(path), context=None), HTML_ACCEPT, html_only).reason
                 for path in ("/e", "/n", "/e", "/n")]
    assert found == [reasons.HTTP_5XX, "http_404", reasons.HTTP_5XX, "http_404"]
