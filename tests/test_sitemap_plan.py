from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from newsbeam.schemas.records import FeedItem
from newsbeam.transforms.backfill import newest_first

from newsbeam.listings import SITEMAP_DEPTH, SITEMAP_LOOP
from newsbeam.sitemap_plan import (
    PlanLimits,
    SitemapVisit,
    newest_first_key,
    order_sitemaps,
    plan_index,
    root_visit,
    select_items,
)
from newsbeam.sitemaps import SubSitemap, read_sitemap
from tests.sitemap_documents import index_of

UTC = timezone.utc
DAY = datetime(2026, 11, 29, tzinfo=UTC)
ROOT = "https://news.example.com/sitemap_index.xml"


def sub(name: str, days_ago: int | None = None) -> SubSitemap:
    return SubSitemap(f"https://news.example.com/{name}", None if days_ago is None else DAY - timedelta(days=days_ago))


def test_news_first_then_newest_then_undated_in_document_order():
    children = [sub("posts-2024.xml", 300), sub("undated-a.xml"), sub("posts-2026.xml", 2), sub("news-sitemap.xml", 9),
                sub("undated-b.xml"), sub("pages.xml", 1)]
    assert [c.url.rsplit("/", 1)[1] for c in order_sitemaps(children)] == [
        "news-sitemap.xml", "pages.xml", "posts-2026.xml", "posts-2024.xml", "undated-a.xml", "undated-b.xml"]


def test_plan_of_a_root_index():
    root = root_visit(ROOT)
    assert root.site == "https://news.example.com" and root.depth == 0
    plan = plan_index(root, [sub("a.xml", 5), sub("b.xml", 1), sub("a.xml", 5), sub("c.xml")], budget=10)
    assert [v.url.rsplit("/", 1)[1] for v in plan.visits] == ["b.xml", "a.xml", "c.xml"]  # repeat read once
    assert all(v.depth == 1 and v.ancestors == (ROOT,) and v.site == root.site for v in plan.visits)
    assert plan.visits[0].lastmod == DAY - timedelta(days=1)
    assert plan.budget_left == 7 and plan.rejected == plan.not_modified == plan.over_budget == ()


def test_budget_keeps_the_newest_and_counts_the_rest():
    plan = plan_index(root_visit(ROOT), [sub(f"month-{i}.xml", 30 * i) for i in range(12)], budget=3)
    assert [v.url.rsplit("/", 1)[1] for v in plan.visits] == ["month-0.xml", "month-1.xml", "month-2.xml"]
    assert len(plan.over_budget) == 9 and plan.budget_left == 0


def test_since_skips_sitemaps_not_modified_since_but_keeps_undated():
    plan = plan_index(root_visit(ROOT), [sub("old.xml", 40), sub("new.xml", 1), sub("undated.xml")], budget=10,
                      since=DAY - timedelta(days=7))
    assert [v.url.rsplit("/", 1)[1] for v in plan.visits] == ["new.xml", "undated.xml"]
    assert plan.not_modified == ("https://news.example.com/old.xml",)


def test_loops_by_canonical_url_and_depth_limit():
    root = root_visit(ROOT)
    (child,) = plan_index(root, [sub("level1.xml")], budget=10).visits
    # the child lists the root again (another spelling of the same URL), itself, and a new index
    plan = plan_index(child, [SubSitemap("https://NEWS.example.com:443/sitemap_index.xml?utm_source=x"),
                              SubSitemap(child.url + "#self"), sub("level2.xml")], budget=10)
    assert [(u.reason, u.value.rsplit("/", 1)[1]) for u in plan.rejected] == [
        (SITEMAP_LOOP, "sitemap_index.xml?utm_source=x"), (SITEMAP_LOOP, "level1.xml#self")]
    (deeper,) = plan.visits
    assert deeper.depth == 2 and deeper.ancestors == (ROOT, "https://news.example.com/level1.xml")
    too_deep = plan_index(deeper, [sub("level3.xml")], budget=10, limits=PlanLimits(max_depth=2))
    assert too_deep.visits == () and too_deep.rejected[0].reason == SITEMAP_DEPTH


def test_seen_elsewhere_is_read_once():
    plan = plan_index(root_visit(ROOT), [sub("a.xml"), sub("b.xml")], budget=10,
                      seen=frozenset({"https://news.example.com/a.xml"}))
    assert [v.url.rsplit("/", 1)[1] for v in plan.visits] == ["b.xml"]


def test_an_index_of_100_read_then_planned():
    listing = read_sitemap(index_of(f"https://news.example.com/sitemap-{i}.xml.gz" for i in range(100)), ROOT)
    plan = plan_index(root_visit(ROOT), listing.sources, budget=40)
    assert len(plan.visits) == 40 and len(plan.over_budget) == 60
    # newest lastmod first: index_of dates them 2026-11-01 .. 09 in turn
    assert all(visit.lastmod.day == 9 for visit in plan.visits[:11])


def item(n: int, days_ago: float | None) -> FeedItem:
    url = f"https://news.example.com/story-{n}"
    return FeedItem(url, url, published_at=None if days_ago is None else DAY - timedelta(days=days_ago))


def test_select_items_window_and_cap():
    items = [item(1, 10), item(2, None), item(3, 1), item(4, 0), item(5, 3), item(6, -1)]
    chosen = select_items(items, since=DAY - timedelta(days=5), until=DAY, limit=2)
    assert [i.url[-1] for i in chosen.items] == ["3", "5"]
    assert (chosen.outside_window, chosen.over_limit) == (3, 1)  # 1 too old, 4 and 6 not before until
    assert [i.url[-1] for i in select_items(items).items] == ["6", "4", "3", "5", "1", "2"]


_items = st.lists(st.builds(item, st.integers(0, 10**6), st.none() | st.integers(-5, 400)), max_size=60,
                  unique_by=lambda i: i.canonical_url)


@given(st.lists(_items, min_size=1, max_size=5), st.integers(0, 30))
@settings(max_examples=100, deadline=None)
def test_per_sitemap_cap_then_global_cap_equals_global_cap(sitemaps, limit):
    everything = [i for group in sitemaps for i in group]
    pre_capped = [i for group in sitemaps for i in select_items(group, limit=limit).items]
    assert newest_first(pre_capped)[:limit] == newest_first(everything)[:limit]
    assert sorted(everything, key=newest_first_key) == newest_first(everything)


def test_visit_is_plain_data():
    visit = SitemapVisit("https://a.example/s.xml", "https://a.example")
    assert visit.depth == 0 and visit.ancestors == () and visit.lastmod is None
