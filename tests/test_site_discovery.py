"""`--sites` discovery against the loopback site, in process: what is found, recorded, reused and rediscovered."""
from datetime import datetime, timedelta, timezone

from newsbeam.sample_site import SampleSite
from newsbeam.site_discovery import load_record, run_discovery
from tests.conftest import FAST
from tests.kinds_routes import kinds_routes

NOW = datetime(2026, 11, 29, 12, tzinfo=timezone.utc)


def _no_sitemap_robots(handler):
    handler.send_body(200, b"User-agent: *\nDisallow:\n", "text/plain")


def _sites_file(tmp_path, *lines: str) -> str:
    sites = tmp_path / "sites.txt"
    sites.write_text("".join(f"{line}\n" for line in lines))
    return str(sites)


def _discover_homepage(site, tmp_path):
    """run_discovery over a sites file naming `site`'s homepage, into `tmp_path`."""
    return run_discovery(_sites_file(tmp_path, f"{site.base_url}/"), str(tmp_path), FAST, NOW, 7)


def test_discovery_records_reuses_and_rediscovers_after_the_given_days(tmp_path):
    with SampleSite(routes=kinds_routes()) as site:
        sites = _sites_file(tmp_path, site.base_url)  # no path: the homepage is '/'
        first = run_discovery(sites, str(tmp_path), FAST, NOW, 7)
        assert first.feeds == (site.url("/kinds/feed.json"), site.url("/feeds/world.rss"))
        assert first.sitemaps == (site.url("/kinds/news-sitemap.xml"),) and first.dead_letters == ()
        assert load_record(str(tmp_path))[f"{site.base_url}/"].feeds == first.feeds
        fetched = len(site.requests("/"))
        again = run_discovery(sites, str(tmp_path), FAST, NOW + timedelta(days=6), 7)
        assert again.feeds == first.feeds and len(site.requests("/")) == fetched
        later = run_discovery(sites, str(tmp_path), FAST, NOW + timedelta(days=8), 7)
        assert later.record[f"{site.base_url}/"]["discovered_this_run"] and len(site.requests("/")) == fetched + 1


def test_fallback_sitemaps_are_probed_and_a_404_is_not_an_error(tmp_path):
    routes = {**kinds_routes(), "/robots.txt": _no_sitemap_robots,
              "/sitemap.xml": kinds_routes()["/kinds/sitemap.xml"],
              # a "soft 404": any path answers 200 with a page, which is not a sitemap
              "/sitemap_index.xml": lambda h: h.send_body(200, b"<html><body>Home</body></html>", "text/html")}
    with SampleSite(routes=routes) as site:
        found = _discover_homepage(site, tmp_path)
        assert found.sitemaps == (site.url("/sitemap.xml"),)  # /sitemap_index.xml answered a page: left out
        assert found.dead_letters == ()


def test_a_site_with_nothing_to_read_and_a_bad_line_are_dead_letters(tmp_path):
    routes = {"/": lambda h: h.send_body(200, b"<html><body>no feeds</body></html>", "text/html"),
              "/robots.txt": _no_sitemap_robots}
    with SampleSite(routes=routes) as site:
        found = run_discovery(_sites_file(tmp_path, f"{site.base_url}/", "http://"), str(tmp_path), FAST, NOW, 7)
    assert sorted((d.reason, d.url) for d in found.dead_letters) == [
        ("discovery_nothing_found", f"{site.base_url}/"), ("invalid_url", None)]
    assert found.feeds == () and found.sitemaps == ()
    assert load_record(str(tmp_path)) == {}  # not recorded: a site down today is tried again at the next run


def test_sites_given_as_a_url_are_fetched_politely(tmp_path):
    routes = {**kinds_routes(), "/sites.txt": lambda h: h.send_body(
        200, f"{h.server.site.base_url}/\n".encode(), "text/plain")}
    with SampleSite(routes=routes) as site:
        found = run_discovery(site.url("/sites.txt"), str(tmp_path), FAST, NOW, 7)
        assert found.sitemaps == (site.url("/kinds/news-sitemap.xml"),)
        missing = run_discovery(site.url("/nope.txt"), str(tmp_path / "other"), FAST, NOW, 7)
    assert [(d.reason, d.url) for d in missing.dead_letters] == [("source_unreadable", site.url("/nope.txt"))]


def test_discovery_responses_are_kept_for_the_archive_only_when_asked(tmp_path):
    with SampleSite(routes=kinds_routes()) as site:
        sites = _sites_file(tmp_path, f"{site.base_url}/")
        plain = run_discovery(sites, str(tmp_path / "a"), FAST, NOW, 7)
        kept = run_discovery(sites, str(tmp_path / "b"), FAST, NOW, 7, archive=True)
    assert plain.archive == ()
    assert kept.feeds == plain.feeds and {entry.role for entry in kept.archive} == {"discovery"}
    urls = {raw.url for entry in kept.archive for raw in entry.exchanges}
    assert f"{site.base_url}/" in urls and f"{site.base_url}/robots.txt" in urls
    assert all(entry.final_record_id for entry in kept.archive if entry.url != f"{site.base_url}/robots.txt")


def _moved_home(handler):
    handler.send_response(301)
    handler.send_header("Location", "/edition/en/")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def test_a_redirected_homepage_resolves_its_relative_feed_links_where_it_landed(tmp_path):
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="feed.rss"></head></html>'
    routes = {"/": _moved_home, "/robots.txt": _no_sitemap_robots,
              "/edition/en/": lambda h: h.send_body(200, page, "text/html")}
    with SampleSite(routes=routes) as site:
        found = _discover_homepage(site, tmp_path)
    assert found.feeds == (site.url("/edition/en/feed.rss"),) and found.dead_letters == ()


def test_a_homepage_that_cannot_be_fetched_is_named_in_the_dead_letter(tmp_path):
    routes = {"/": lambda h: h.send_body(404, b"<html><body>gone</body></html>", "text/html"),
              "/robots.txt": _no_sitemap_robots}
    with SampleSite(routes=routes) as site:
        found = _discover_homepage(site, tmp_path)
    [dead] = found.dead_letters
    assert dead.reason == "discovery_nothing_found" and dead.detail.startswith(
        "the homepage could not be fetched (http_404"), dead.detail
