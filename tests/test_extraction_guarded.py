"""The `guarded` strategy: trafilatura's fast mode, with resiliparse as an independent second opinion."""
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st
from resiliparse.parse.html import HTMLParserException
from trafilatura.utils import load_html

from newsbeam import extraction
from newsbeam.extraction import STRATEGIES, EmptyText, ExtractionSettings, extract_page, main_text, resiliparse_text
from newsbeam.sample_site import SITE_DIR

FETCHED = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
PROSE = ("The court heard three witnesses on the first day of the hearing, and the judges asked each of them about "
         "the months they had spent in the camp before the return. ")
ARTICLE = "<html><body><article>" + "".join(f"<p>{PROSE * 2} ({n})</p>" for n in range(4)) + "</article></body></html>"
TREE = load_html(ARTICLE)
SHORT = "Kategorie: News"  # a short label the chrome filter does not know
FAST, FULL = "\n".join([PROSE * 3, SHORT, PROSE * 3]), PROSE * 8
GUARDED = ExtractionSettings(strategy="guarded", timeout=0)


@pytest.fixture
def modes(monkeypatch):
    """trafilatura's modes stubbed: fast mode keeps FAST, standard mode with fallbacks FULL; calls recorded."""
    calls = []

    def run_mode(tree, url, settings, fast, precision):
        calls.append("fast" if fast else "full")
        return FAST if fast else FULL

    monkeypatch.setattr(extraction, "_run_mode", run_mode)
    return calls


def test_fast_mode_is_enough_when_resiliparse_finds_about_as_much(modes, monkeypatch):
    monkeypatch.setattr(extraction, "resiliparse_text", lambda html: FAST.replace(SHORT, "KATEGORIE - news"))
    text = main_text(TREE, "http://x/a", GUARDED, ARTICLE)
    assert modes == ["fast"]  # the fallback extractors are not run
    assert text == FAST


def test_fallbacks_run_when_resiliparse_finds_far_more_text(modes, monkeypatch):
    monkeypatch.setattr(extraction, "resiliparse_text", lambda html: PROSE * 20)
    text = main_text(TREE, "http://x/a", GUARDED, ARTICLE)
    assert modes == ["fast", "full"]
    assert text == FULL


def test_a_short_paragraph_needs_both_extractors(modes, monkeypatch):
    # resiliparse has the prose but not the label: the label is dropped, the prose stays
    monkeypatch.setattr(extraction, "resiliparse_text", lambda html: FAST.replace(SHORT, "Kategorie: Sport"))
    text = main_text(TREE, "http://x/a", GUARDED, ARTICLE)
    assert text == "\n".join([PROSE * 3, PROSE * 3])


def test_no_second_opinion_keeps_fast_mode(modes, monkeypatch):
    def fail(*args, **kwargs):
        raise HTMLParserException("boom")

    monkeypatch.setattr(extraction, "extract_plain_text", fail)
    assert resiliparse_text(ARTICLE) == ""
    assert main_text(TREE, "http://x/a", GUARDED, ARTICLE) == FAST
    assert modes == ["fast"]


def test_the_balanced_strategy_always_runs_the_fallbacks(modes):
    assert main_text(TREE, "http://x/a", ExtractionSettings(strategy="balanced", timeout=0), ARTICLE) == FULL
    assert modes == ["full"]


def test_learned_is_the_default():
    assert ExtractionSettings().strategy == "learned" and STRATEGIES[0] == "learned"


def test_the_strategy_is_a_command_line_option(tmp_path):
    from newsbeam.pipelines.options import NewsbeamOptions, build_config

    urls = tmp_path / "urls.txt"
    urls.write_text("https://news.example.org/a\n")

    def strategy(*flags):
        options = NewsbeamOptions(["--urls", str(urls), "--output", str(tmp_path / "out"), *flags])
        return build_config(options).core.extraction.strategy

    assert strategy() == "learned" and strategy("--extraction-strategy", "guarded") == "guarded"


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("name", ["en-subscribers-only.html", "fr-reserve-abonnes.html"])
def test_teaser_pages_stay_empty_text_with_every_strategy(strategy, name):
    html = (SITE_DIR / "articles" / name).read_text(encoding="utf-8")
    with pytest.raises(EmptyText):
        extract_page(html, "http://x/a", ExtractionSettings(strategy=strategy, timeout=0), FETCHED)


def test_real_article_through_both_extractors():
    html = (SITE_DIR / "articles" / "en-hague-court-ruling.html").read_text(encoding="utf-8")
    content = extract_page(html, "http://x/a", ExtractionSettings(timeout=0), FETCHED)
    assert len(content.text) > 1500 and "Related" not in content.text
    assert len(resiliparse_text(html)) > 1500


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' abcpdivrtlh&;#\n\u00e9\u0645\ud7ff")), max_size=300))
def test_arbitrary_markup_never_raises(markup):
    assert isinstance(resiliparse_text(markup), str)
    tree = load_html(markup) if markup.strip() else None
    if tree is not None:
        assert isinstance(main_text(tree, "http://x/a", ExtractionSettings(timeout=0), markup), str)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_folding_is_idempotent_and_spaced(text):
    folded = extraction._folded(text)
    assert extraction._folded(folded) == folded
    assert "  " not in folded and folded == folded.strip()


FURNITURE = (
    "Share this article",
    "Related: Chicago is America's most segregated city",
    "12 comments",
    "Read more",
    # boxes of up to 200 characters, however much they read like prose
    "We use cookies to enhance your visit to our site and to bring you advertisements that might interest you. "
    "Read our privacy policy.",
    "Der Newsletter ist kostenlos und kann jederzeit abonniert und wieder abbestellt werden.",
    "© 2026 The Sample Courier. All rights reserved.",
)
# prose of 100-200 characters that names a share, comment or "related" word (dropped as furniture before)
PROSE_NAMING_FURNITURE = (
    "The rights of Yahoo shareholders in this sale will be different from those in an ordinary sale, when they vote.",
    "The premier has been detained in the United States on drug-related charges as well as charges of conspiracy.",
    "She said she stayed up until 4 a.m. recently to take down comments from her business and company pages.",
    "The codeshare expansion includes several of the airline's new routes from Los Angeles to Boise and Missoula.",
)


def test_the_guard_drops_furniture_and_keeps_prose_that_names_it():
    lines = [PROSE * 2, *FURNITURE, *PROSE_NAMING_FURNITURE, PROSE * 2]
    assert all(100 <= len(line) <= 200 for line in PROSE_NAMING_FURNITURE)
    text = extraction.guard_text("\n".join(lines), None, GUARDED)
    assert text.splitlines() == [PROSE * 2, *PROSE_NAMING_FURNITURE, PROSE * 2]
