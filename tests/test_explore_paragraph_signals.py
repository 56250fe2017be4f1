"""The DOM features of benchmarks/explore_paragraph_signals.py (an exploration left out of the pipeline)."""
from trafilatura.utils import load_html

from benchmarks import explore_paragraph_signals as ex
from newsbeam import paragraphs as pg

LONG = ("The council approved the new budget on Tuesday after a long debate about schools, roads and the cost of "
        "public transport in the region, and the mayor called it a turning point for the city and its people.")
HTML = f"""<html><body><div class="page">
<article class="story"><p>One: {LONG}</p><p>Two: {LONG}</p><p>A short line of the article.</p></article>
<aside class="related-teasers"><h3><a href="/x">Another story worth reading today</a></h3></aside>
</div></body></html>"""
# the texts are found by their first 20 characters: the two long paragraphs must differ there
CANDS = [pg.Candidate(f"One: {LONG}", True, True), pg.Candidate(f"Two: {LONG}", True, True),
         pg.Candidate("A short line of the article.", True, True),
         pg.Candidate("Another story worth reading today", True, True), pg.Candidate("Not on the page", True, False)]


def _features(row):
    return dict(zip(ex.DOM_FEATURES, row))


def test_dom_rows_place_each_paragraph():
    rows = ex.dom_rows(load_html(HTML), CANDS, range(len(CANDS)))
    article, teaser, missing = _features(rows[2]), _features(rows[3]), _features(rows[4])
    assert article["long_sibling"] == 1.0 and article["in_long_ancestor"] == 1.0 and article["in_article"] == 1.0
    assert article["in_a"] == 0.0 and article["link_density"] == 0.0 and article["body"] == 1.0
    assert teaser["long_sibling"] == 0.0 and teaser["in_long_ancestor"] == 0.0
    assert teaser["in_a"] == teaser["in_h"] == teaser["related"] == 1.0 and teaser["link_density"] == 1.0
    assert set(missing.values()) == {ex.MISSING}


def test_call_to_action_lexicon():
    assert ex.CALL_TO_ACTION.search("Lesen Sie auch: die Wahl")
    assert ex.CALL_TO_ACTION.search("© 2020 All rights reserved")
    assert not ex.CALL_TO_ACTION.search(LONG)
