"""The composites on the FnApiRunner with TestPipeline: main and dead-letter outputs, and counters."""
import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.sample_site import SITE_DIR
from newsbeam.urls import canonicalize_url
from newsbeam.schemas.records import FeedItem
from tests.conftest import FAST
from tests.pipeline_helpers import fnapi_pipeline, run_and_count
from newsbeam.transforms.common import DEAD_LETTERS
from newsbeam.transforms.core import CoreSettings, ProcessArticles
from newsbeam.transforms.dedup import DeduplicateItems, pick_representative
from newsbeam.transforms.sources import ReadFeeds, ReadUrlLists


def item(url, feed=None):
    return FeedItem(url=url, canonical_url=canonicalize_url(url), feed_url=feed)


def test_pick_representative_prefers_canonical_listing_then_feed_order():
    listed = [item("http://e.org/a?utm_source=x", "f1"), item("http://e.org/a", "f2"), item("http://e.org/a", "f0")]
    chosen, dropped = pick_representative(listed)
    assert (chosen.url, chosen.feed_url, dropped) == ("http://e.org/a", "f0", 2)
    assert pick_representative(reversed(listed))[0] == chosen


def test_deduplicate_items_counts_what_it_drops():
    pipeline = fnapi_pipeline()
    items = [item("http://e.org/a"), item("http://e.org/a?utm_medium=rss", "f"), item("http://e.org/b"),
             item("http://E.org/b#top", "g")]
    unique = pipeline | beam.Create(items) | DeduplicateItems() | beam.Map(lambda i: i.url)
    assert_that(unique, equal_to(["http://e.org/a", "http://e.org/b"]))
    counters = run_and_count(pipeline)
    assert (counters["items.in"], counters["items.unique"], counters["items.duplicate"]) == (4, 2, 2)


def dead_letter_keys(dead_letters, base):
    return dead_letters | "DeadLetterKeys" >> beam.Map(lambda d: (d.stage, d.reason, d.url.replace(base, "")))


def test_read_feeds_expands_lists_and_reports_every_bad_source(site, tmp_path):
    local_feed = tmp_path / "local.rss"
    local_feed.write_text((SITE_DIR / "feeds/europe.atom").read_text().replace("{{BASE_URL}}", site.base_url))
    nested = tmp_path / "nested.opml"
    nested.write_text(f'<opml version="2.0"><body><outline text="lists"><outline type="rss" '
                      f'xmlUrl="{site.url("/feeds/feeds.txt")}"/></outline></body></opml>')
    sources = [
        site.url("/feeds/subscriptions.opml"),  # world, europe, levant, broken
        str(local_feed),
        str(nested),  # lists feeds.txt, a list inside a list
        site.url("/feeds/empty-garbage.xml"),
        site.url("/faults/garbage.xml"),
        site.url("/feeds/missing.rss"),
        site.url("/faults/feed-500.rss"),
        site.url("/faults/image.png"),
        str(tmp_path / "vanished.opml"),
    ]
    pipeline = fnapi_pipeline()
    read = pipeline | beam.Create(sources) | ReadFeeds(FAST)
    assert_that(read["items"] | beam.combiners.Count.Globally(), equal_to([19 + 17 + 4 + 2 + 17]), label="Items")
    assert_that(dead_letter_keys(read[DEAD_LETTERS], site.base_url), equal_to([
        ("source", "nested_list_ignored", "/feeds/feeds.txt"),
        ("feed", "feed_not_a_feed", "/feeds/empty-garbage.xml"),
        ("feed", "feed_parse_error", "/faults/garbage.xml"),
        ("feed", "feed_http_404", "/feeds/missing.rss"),
        ("feed", "feed_http_5xx", "/faults/feed-500.rss"),
        ("feed", "feed_not_a_feed", "/faults/image.png"),
        ("source", "source_unreadable", str(tmp_path / "vanished.opml")),
    ]), label="DeadLetters")
    counters = run_and_count(pipeline)
    assert counters["feeds.parsed"] == 5 and counters["feeds.items"] == 59
    assert counters["sources.subscription_lists"] == 2
    assert len(site.requests("/robots.txt")) == 1


def test_read_url_lists_reports_lines_that_are_not_urls(tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text("# comment\n\nhttp://e.org/a\nnot a url\nftp://e.org/b\n  https://e.org/c  \n")
    pipeline = fnapi_pipeline()
    read = pipeline | beam.Create([str(listing)]) | ReadUrlLists()
    assert_that(read["items"] | beam.Map(lambda i: i.url), equal_to(["http://e.org/a", "https://e.org/c"]),
                label="Items")
    assert_that(read[DEAD_LETTERS] | beam.Map(lambda d: (d.stage, d.reason, d.url)),
                equal_to([("source", "invalid_url", None), ("source", "invalid_url", None)]),
                label="DeadLetters")
    run_and_count(pipeline)


FAULTS = {
    "/faults/ok.html": None,
    "/faults/503-then-200.html": None,
    "/faults/redirect-1.html": None,
    "/faults/wrong-charset.html": None,
    "/faults/missing.html": ("fetch", "http_404"),
    "/faults/always-503.html": ("fetch", "http_5xx"),
    "/faults/hang.html": ("fetch", "timeout"),
    "/faults/huge.html": ("fetch", "too_large"),
    "/faults/image.png": ("fetch", "not_html"),
    "/private/memo.html": ("fetch", "robots_disallowed"),
    "/faults/boilerplate.html": ("extract", "empty_text"),
}


def test_process_articles_accounts_for_every_item(site):
    items = [item(site.url(path), "feed") for path in FAULTS]
    pipeline = fnapi_pipeline()
    result = pipeline | beam.Create(items) | ProcessArticles(CoreSettings(fetch=FAST))
    base = site.base_url
    assert_that(
        result["articles"] | beam.Map(lambda a: (a.extracted.item.url.replace(base, ""), a.language)),
        equal_to([(path, "fr" if "charset" in path else "en") for path, outcome in FAULTS.items() if outcome is None]),
        label="Articles")
    assert_that(
        result[DEAD_LETTERS] | beam.Map(lambda d: (d.url.replace(base, ""), d.stage, d.reason)),
        equal_to([(path, *outcome) for path, outcome in FAULTS.items() if outcome is not None]),
        label="DeadLetters")
    counters = run_and_count(pipeline)
    assert counters["pages.fetched"] == 5 and counters["pages.fetch_failed"] == 6
    assert counters["articles.extracted"] == 4
    assert counters["pages.hosts"] == 1


def test_wrong_charset_header_gives_clean_text(site):
    pipeline = fnapi_pipeline()
    result = (pipeline | beam.Create([item(site.url("/faults/wrong-charset.html"))])
              | ProcessArticles(CoreSettings(fetch=FAST)))
    assert_that(result["articles"] | beam.Map(lambda a: ("Procès à Paris" in a.extracted.text, "Ã" in a.extracted.text,
                                                         a.extracted.encoding)),
                equal_to([(True, False, "utf-8")]))
    run_and_count(pipeline)


def _sample_articles(names):
    """Articles of the sample site's pages, extracted and language-tagged as the core does, for the entity stage."""
    from datetime import datetime, timezone

    from newsbeam.extraction import ExtractionSettings, extract_page
    from newsbeam.language import LanguageDetector
    from newsbeam.schemas.records import Article, ExtractedArticle

    detector = LanguageDetector()
    now = datetime(2026, 11, 21, tzinfo=timezone.utc)
    articles = []
    for name in names:
        html = (SITE_DIR / "articles" / f"{name}.html").read_text(encoding="utf-8")
        content = extract_page(html, f"http://x/{name}", ExtractionSettings(), now)
        language, score = detector.detect(content.text)
        extracted = ExtractedArticle(
            item=item(f"http://x/{name}"), final_url=f"http://x/{name}", canonical_url=f"http://x/{name}",
            http_status=200, content_type="text/html", encoding="utf-8", fetched_at=now, attempts=1,
            title=content.title, authors=content.authors, published_at=content.published_at, date_source="html",
            sitename=None, description=None, tags=(), text=content.text, word_count=1, content_hash="h")
        articles.append(Article(extracted=extracted, language=language, language_score=score))
    return articles


def test_entity_stage_links_every_language_and_counts(tmp_path):
    from newsbeam.transforms.entities import EntityStageSettings, TagEntities

    articles = _sample_articles(("en-deir-ez-zor-tribal-tensions", "fr-deir-al-zour-retour-familles",
                                 "ar-deir-ezzor-security", "de-ypg-freiwillige-ermittlungen"))
    pipeline = fnapi_pipeline()
    tagged = pipeline | beam.Create(articles) | TagEntities(EntityStageSettings())
    assert_that(tagged | beam.Map(lambda a: (a.language, "geonames:170794" in {m.entity_id for m in a.entities},
                                             all(a.extracted.text[m.start:m.end] == m.text for m in a.entities))),
                equal_to([("en", True, True), ("fr", True, True), ("ar", True, True), ("de", True, True)]))
    counters = run_and_count(pipeline)
    assert counters["entities.linked"] > 20 and counters["entities.mentions"] >= counters["entities.linked"]
    assert counters["topics.matched"] > 0 and counters["stage_us.entities"] > 0


def test_entity_stage_keys_each_text_once(monkeypatch):
    """The gazetteer and the watchlists match on one transliteration key of the text (newsbeam.entities.normalise,
    ~3 ms an article): the stage computes it once and hands it to both, with the same mentions and topics as each
    computing its own."""
    from newsbeam.entities import linking
    from newsbeam.entities.normalise import normalise
    from newsbeam import topics
    from newsbeam.transforms import entities as stage

    articles = _sample_articles(("en-deir-ez-zor-tribal-tensions", "ar-deir-ezzor-security"))
    texts = {a.extracted.text for a in articles}
    keyed = []

    def counted(text):
        if text in texts:
            keyed.append(text)
        return normalise(text)

    settings = stage.EntityStageSettings()
    # the step takes these with its first batch: the process's one tagger and watchlists
    tagger, watchlists = stage.shared_tagger(settings.tagger), stage.shared_topics(settings.topics_path)
    tag = stage._TagBatchFn(settings)
    tag.setup()
    expected = [(tuple(tagger.tag(a.extracted.text, a.language)), tuple(watchlists.match(a.extracted.text)))
                for a in articles]
    for module in (linking, topics, stage):
        monkeypatch.setattr(module, "normalise", counted, raising=False)
    tagged = list(tag.process(articles))
    assert sorted(keyed) == sorted(texts)  # once each (before: once for the gazetteer, once for the watchlists)
    assert [(a.entities, a.topics) for a in tagged] == expected
    assert all(found for found, _ in expected) and any(matched for _, matched in expected)


def test_a_shared_handle_keeps_one_object_and_another_key_replaces_it():
    # what acquire_shared's docstring promises: one object per handle and process, not one per key
    from apache_beam.utils import shared

    from newsbeam.transforms.common import acquire_shared

    class Built:
        def __init__(self, key):
            self.key = key

    handle, builds = shared.Shared(), []

    def build(key):
        builds.append(key)
        return Built(key)

    first = acquire_shared(handle, lambda: build("a"), "a")
    assert acquire_shared(handle, lambda: build("a"), "a") is first
    second = acquire_shared(handle, lambda: build("b"), "b")
    assert second.key == "b" and first.key == "a"  # a holder of the old object keeps it
    third = acquire_shared(handle, lambda: build("a"), "a")
    assert third is not first and builds == ["a", "b", "a"]
