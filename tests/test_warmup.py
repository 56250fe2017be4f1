"""The warm-up step: the later stages' models load in the background while pages are fetched."""
import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.language import LanguageSettings
from newsbeam.pipelines.options import NewsbeamOptions, build_config
from newsbeam.sample_site import SITE_DIR, SampleSite
from newsbeam.schemas.records import FeedItem
from newsbeam.transforms.core import CoreSettings, ProcessArticles
from newsbeam.transforms.language import shared_detector
from newsbeam.transforms.warmup import _WarmUpFn
from newsbeam.urls import canonicalize_url
from tests.conftest import FAST
from tests.pipeline_helpers import fnapi_pipeline, run_and_count


def test_setup_builds_the_shared_detector_in_the_background_and_the_stage_gets_the_same_one():
    settings = LanguageSettings(seed=7)  # a key of its own: nothing else in the test process built it
    warm = _WarmUpFn(settings, None)
    warm.setup()
    warm._thread.join(60)
    assert not warm._thread.is_alive()
    assert len(warm._held) == 1
    assert shared_detector(settings) is warm._held[0]  # the language stage acquires this one with its first article
    assert list(warm.process("element")) == ["element"]
    warm.teardown()
    assert warm._held == []


def test_a_worker_that_fetches_loads_when_its_fetching_ends_and_an_idle_one_at_once():
    fetching = _WarmUpFn(LanguageSettings(seed=8), None, idle_grace=5.0, busy_window=60.0)
    fetching.setup()
    assert list(fetching.process("page")) == ["page"]  # pages come through: this worker fetches
    fetching._thread.join(0.5)
    assert fetching._thread.is_alive() and fetching._held == []  # its fetch threads keep the GIL meanwhile
    fetching.finish_bundle()
    fetching._thread.join(60)
    assert len(fetching._held) == 1
    fetching.teardown()

    idle = _WarmUpFn(LanguageSettings(seed=9), None, idle_grace=0.1, busy_window=60.0)
    idle.setup()  # no page comes: it loads without waiting for the fetching elsewhere to end
    idle._thread.join(30)
    assert not idle._thread.is_alive() and len(idle._held) == 1
    idle.teardown()


def test_where_extraction_runs_while_pages_are_fetched_a_fetching_worker_loads_at_once():
    # no barrier after the fetch: this worker extracts during its fetch too, so its models are wanted now
    fetching = _WarmUpFn(LanguageSettings(seed=12), None, defer=False, idle_grace=5.0, busy_window=60.0)
    fetching.setup()
    assert list(fetching.process("page")) == ["page"]
    fetching._thread.join(30)  # well before the idle grace and any busy window would let it
    assert not fetching._thread.is_alive() and len(fetching._held) == 1
    fetching.teardown()


def test_a_fetching_worker_loads_meanwhile_only_while_fetching_leaves_its_process_idle(monkeypatch):
    import threading
    import time

    import newsbeam.transforms.warmup as warmup

    # busy from 5 % of a core: the spinning thread below stays busy even when other tests' processes take the cores
    monkeypatch.setattr(warmup, "BUSY_SHARE", 0.05)
    # a fetch bound by the CPU (here a thread that keeps this process busy): no load until the fetching ends
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        busy = _WarmUpFn(LanguageSettings(seed=10), None, idle_grace=5.0, busy_window=0.3)
        busy.setup()
        list(busy.process("page"))
        busy._thread.join(2.0)
        assert busy._thread.is_alive() and busy._held == []
    finally:
        stop.set()
        spinner.join()
    busy.finish_bundle()
    busy._thread.join(60)
    assert len(busy._held) == 1
    busy.teardown()

    # a fetch held back by politeness delays: the process idles, so the models load before the fetching ends
    polite = _WarmUpFn(LanguageSettings(seed=11), None, idle_grace=5.0, busy_window=0.3)
    polite.setup()
    list(polite.process("page"))
    started = time.monotonic()
    polite._thread.join(60)
    assert not polite._thread.is_alive() and len(polite._held) == 1
    assert time.monotonic() - started < 30
    assert not polite._fetched.is_set()  # its bundle never ended
    polite.teardown()


def test_a_failing_load_is_left_to_the_stage_that_needs_it(monkeypatch, caplog):
    import newsbeam.transforms.warmup as warmup

    def broken():
        raise RuntimeError("no model")

    monkeypatch.setattr(warmup, "_loaders", lambda language, entities: [broken, broken])
    warm = _WarmUpFn(LanguageSettings(), None)
    warm.setup()
    warm._thread.join(60)
    assert warm._held == []  # no exception escapes the thread; the stage's own setup() raises it


def _labels(pipeline):
    labels = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            labels.append(node.full_label)

        def enter_composite_transform(self, node):
            labels.append(node.full_label)

    pipeline.visit(Visitor())
    return labels


def test_the_core_warms_up_after_fetching_unless_told_not_to():
    for warm_up, expected in ((True, 1), (False, 0)):
        pipeline = fnapi_pipeline()
        _ = pipeline | beam.Create([]) | ProcessArticles(CoreSettings(fetch=FAST, entities=None, warm_up=warm_up))
        found = [label for label in _labels(pipeline) if label.endswith("/WarmUp/Load")]
        assert len(found) == expected, found


def test_it_is_on_unless_turned_off(tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("https://example.com/a\n")
    common = ["--urls", str(urls), "--output", str(tmp_path / "out")]
    assert build_config(NewsbeamOptions(common)).core.warm_up is True
    assert build_config(NewsbeamOptions([*common, "--warm-up", "off"])).core.warm_up is False


def test_pages_pass_through_the_core_unchanged_with_the_warm_up():
    paths = [f"/articles/{page.name}" for page in sorted((SITE_DIR / "articles").glob("*.html"))][:6]
    with SampleSite() as site:
        items = [FeedItem(url=site.url(p), canonical_url=canonicalize_url(site.url(p)), feed_url=None) for p in paths]
        pipeline = fnapi_pipeline()
        core = pipeline | beam.Create(items) | ProcessArticles(CoreSettings(fetch=FAST, entities=None, warm_up=True))
        urls = (core["articles"] | "Url" >> beam.Map(lambda a: a.extracted.item.url),
                core["dead_letters"] | "DeadUrl" >> beam.Map(lambda d: d.url)) | beam.Flatten()
        assert_that(urls, equal_to([item.url for item in items]))
        counters = run_and_count(pipeline)
    assert counters["pages.fetched"] == len(paths)
