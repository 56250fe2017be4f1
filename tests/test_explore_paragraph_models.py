"""The labels and signals of benchmarks/explore_paragraph_models.py (an exploration left out of the pipeline)."""
from hypothesis import given, settings, strategies as st
from trafilatura.utils import load_html

from benchmarks import explore_paragraph_models as em
from newsbeam import paragraphs as pg

EXPECTED = ("Budget approved\n"
            "The council approved the new budget on Tuesday after a long debate about schools.\n"
            "Share\n"
            "The mayor called it a turning point for the city.")


def test_readability_labels_whole_paragraphs_keep_foreign_ones_drop_partial_ones_unused():
    label = em.readability_label(EXPECTED)
    assert label("The council approved the new budget on Tuesday") == 1  # inside a paragraph of the expected text
    assert label("THE MAYOR called it a turning point — for the city!") == 1  # folded as the candidates are
    assert label("Budget approved") == 1 and label("Share") == 1  # short: whole lines of the expected text
    assert label("the new budget") == -1  # short and only part of a line: by chance as often as not
    assert label("Sign up for our newsletter today and win") == 0
    assert label("The council approved a plan for new parking garages today") == -1  # half its words: partial
    assert label("  ...  ") == -1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cc", "Zl", "Zp")), min_size=1, max_size=40), min_size=1,
                max_size=6), st.data())
def test_readability_label_keeps_every_line_of_the_expected_text(lines, data):
    label = em.readability_label("\n".join(lines))
    line = data.draw(st.sampled_from(lines))
    assert label(line) == (1 if pg.folded(line) else -1)
    assert label(line) in (-1, 0, 1) and em.readability_label("")(line) in (-1, 0)


LONG = ("The council approved the new budget on Tuesday after a long debate about schools, roads and the cost of "
        "public transport in the region, and the mayor called it a turning point for the city and its people.")
PAGE = f"""<html><head><title>Council approves the budget</title>
<meta name="description" content="A long debate about schools and roads"></head><body>
<article><p>One: {LONG}</p><p>Two: {LONG}</p><p>The budget debate</p></article>
<aside><h3><a href="/x">Another story worth reading</a></h3><h3><a href="/y">Another story worth reading</a></h3>
</aside></body></html>"""


def test_signals_read_the_title_repeats_and_neighbours():
    texts = [f"One: {LONG}", f"Two: {LONG}", "The budget debate", "Another story worth reading"]
    cands = pg.candidates("\n".join(texts), "\n".join(texts[:2]))
    tree = load_html(PAGE)
    rows = pg.drop_rows(cands, None, range(len(cands)), tree)
    out = [dict(zip(em.SIGNALS, row)) for row in em.signals(cands, range(len(cands)), tree, rows)]
    assert out[2]["title_overlap"] == 1.0  # "the", "budget", "debate": all in the title or description
    assert out[3]["title_overlap"] == 0.0 and out[3]["repeat_dom"] == 2.0 and out[2]["repeat_dom"] == 1.0
    assert out[3]["prev_in_h"] == 0.0 and out[2]["next_in_h"] == 1.0 and out[2]["next_in_a"] == 1.0
    assert out[0]["prev_link_density"] == -1.0 and out[3]["next_log_chars"] == -1.0
    assert [row["repeat_candidates"] for row in out] == [1.0] * 4
    bare = load_html(f"<html><body><p>One: {LONG}</p></body></html>")
    assert em.signals(cands, [0], bare, rows[:1])[0][0] == -1.0  # no title, no description


def test_three_fold_assignments_each_a_partition():
    folds = em.assignments(23)
    assert folds[0] == [i % 5 for i in range(23)] and len(folds) == 3 and folds[1] != folds[2]
    assert all(sorted(set(f)) == [0, 1, 2, 3, 4] and max(f.count(k) for k in range(5)) == 5 for f in folds)


def _page():
    fast = "\n".join([LONG, "Wohnen: " + LONG.replace("approved", "passed")])
    texts = dict(fast=fast, res=fast, bal="", body=None, with_=("approved the new budget",), without=("Wohnen",))
    return em.tp.Page("http://example.com/a", texts)


def test_clean_labels_ignore_short_without_segments_in_long_paragraphs():
    texts = {"with_": ("approved the new budget",), "without": ("Wohnen", "Share this article with friends")}
    long = "Wohnen: " + LONG.replace("approved", "passed")  # over 200 characters, no `with` segment
    assert em.tp._label(long, texts) == 0 and em.clean_label(20, 200)(long, texts) == -1
    assert em.clean_label(20, 200)("Wohnen und Leben", texts) == 0  # a short paragraph: the segment still counts
    assert em.clean_label(20, 200)("Share this article with friends " + long, texts) == 0  # a long segment still counts
    page = em.relabelled([_page()], em.clean_label(20, 200))[0]
    assert page.kept_labels == [1, -1] and _page().kept_labels == [1, 0]  # a copy: the original keeps its labels
