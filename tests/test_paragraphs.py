"""The `learned` strategy's per-paragraph decision (newsbeam/paragraphs.py): candidates, features, the model."""
import io
import json
import random
from html import escape
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st
from trafilatura.utils import load_html
from importlib import resources

from newsbeam import extraction, paragraphs as pg
from newsbeam.extraction import EmptyText, ExtractionSettings, extract_page, main_text
from newsbeam.sample_site import SITE_DIR

PROSE = ("The council approved the new budget on Tuesday after a long debate about schools, roads and the cost of "
         "public transport in the region.")
FAST = "\n".join([PROSE + " One.", PROSE + " Two.", PROSE + " Three."])
OTHER = "\n".join([PROSE + " One.", "The mayor said the vote was a turning point.", PROSE + " Two.",
                   "Share this article", PROSE + " Three.", "Related: more stories"])
FEATURE = {name: i for i, name in enumerate(pg.FEATURES)}


def _spec(**changes):
    """A two-tree model: log-odds -0.5, +2 when the paragraph ends a sentence, -1 when it has over 20 words."""
    spec = {"features": list(pg.FEATURES), "base": -0.5, "threshold": 0.0, "trees": [
        {"feature": [FEATURE["sentence_end"], -1, -1], "threshold": [0.5, 0, 0], "left": [1, -1, -1],
         "right": [2, -1, -1], "value": [0, 0.0, 2.0]},
        {"feature": [FEATURE["words"], -1, -1], "threshold": [20.0, 0, 0], "left": [1, -1, -1],
         "right": [2, -1, -1], "value": [0, 0.0, -1.0]},
    ]}
    spec.update(changes)
    return spec


def _row(**values):
    row = [0.0] * len(pg.FEATURES)
    for name, value in values.items():
        row[FEATURE[name]] = value
    return row


def test_a_fixed_feature_vector_gives_a_fixed_score_and_decision():
    model = pg.Model(_spec())
    assert model.score(_row(sentence_end=1.0, words=5.0)) == pytest.approx(1.5)
    assert model.keep(_row(sentence_end=1.0, words=5.0))
    assert model.score(_row(sentence_end=1.0, words=25.0)) == pytest.approx(0.5)
    assert model.score(_row(sentence_end=0.0, words=25.0)) == pytest.approx(-1.5)
    assert not model.keep(_row(sentence_end=0.0, words=5.0))  # -0.5: below the threshold
    assert not pg.Model(_spec(threshold=1.6)).keep(_row(sentence_end=1.0, words=5.0))


_KEEP_ALL = {"features": list(pg.DROP_FEATURES), "base": 1.0, "threshold": 0.0, "trees": []}


def _models(add=None, drop=None):
    return pg.models_from({"version": pg.MODEL_VERSION, "add": add or _spec(), "drop": drop or _KEEP_ALL})


def test_the_model_file_version_and_features_are_checked():
    with pytest.raises(ValueError, match="version"):
        pg.models_from({"version": pg.MODEL_VERSION - 1, "add": _spec(), "drop": _KEEP_ALL})
    with pytest.raises(ValueError, match="features"):
        pg.Model(_spec(features=list(pg.FEATURES[:-1])))
    with pytest.raises(ValueError, match="features"):
        _models(drop=dict(_KEEP_ALL, features=list(pg.FEATURES)))
    shipped = json.loads(resources.files("newsbeam").joinpath(pg.MODEL_FILE).read_text(encoding="utf-8"))
    assert shipped["version"] == pg.MODEL_VERSION and tuple(shipped["add"]["features"]) == pg.FEATURES
    assert tuple(shipped["drop"]["features"]) == pg.DROP_FEATURES
    assert pg.default_models() is pg.default_models()  # read once per process


def test_the_shipped_weights_give_fixed_scores():
    """Pinned to newsbeam/paragraph_model.json: retraining changes these figures (update them with RESULTS)."""
    mayor = ("The mayor said the vote was a turning point for the city and its residents, who had waited for years "
             "for it.")
    other = "\n".join([PROSE + " One.", mayor, PROSE + " Two.", "Share this article", PROSE + " Three."])
    cands = pg.candidates(FAST, other)
    extra = [i for i, cand in enumerate(cands) if not cand.in_fast]
    scores = [pg.default_models().add.score(row) for row in pg.features(cands, None, extra)]
    assert [cands[i].text for i in extra] == [mayor, "Share this article"]
    assert scores == pytest.approx([-0.67, -4.1932], abs=1e-3)  # both under the threshold, log(0.6 / 0.4)
    assert pg.decide(FAST, other, None) == FAST


LONG = ("The council approved the new budget on Tuesday after a long debate about schools, roads and the cost of "
        "public transport in the region, and the mayor called it a turning point for the city and its people.")
ARTICLE = [f"One: {LONG}", f"Two: {LONG}", "A short line of the article, said the mayor.", f"Three: {LONG}"]
TEASERS = ["Another story worth reading today", "Click here to download our app"]
PAGE = f"""<html><body><div class="page"><h1>Budget approved</h1>
<article class="story"><p>{ARTICLE[0]}</p><p>{ARTICLE[1]}</p><p>{ARTICLE[2]}</p><p>{ARTICLE[3]}</p></article>
<aside class="related"><ul><li><h3><a href="/x">{TEASERS[0]}</a></h3></li>
<li><h3><a href="/y">{TEASERS[1]}</a></h3></li></ul></aside></div></body></html>"""


def test_the_drop_model_drops_what_fast_mode_keeps_by_its_place_in_the_dom():
    """A call to action in an aside's link and heading, which fast mode kept and resiliparse did not: the shipped
    `drop` model drops it, and keeps the article; without the page's tree nothing is dropped. (The teaser line
    above it is kept since the models learn from both halves of trafilatura's set: probability 0.40 to be kept,
    0.18 with the dev half's models, the threshold 0.3.)"""
    fast, other = "\n".join(ARTICLE + TEASERS), "\n".join(ARTICLE)
    tree = load_html(PAGE)
    assert pg.decide(fast, other, None, tree).splitlines() == ARTICLE + TEASERS[:1]
    assert pg.decide(fast, other, None).splitlines() == ARTICLE + TEASERS
    cands = pg.candidates(fast, other)
    scores = [pg.default_models().drop.score(row) for row in pg.drop_rows(cands, None, range(6), tree)]
    assert scores == pytest.approx([3.8169, 3.9016, 2.7806, 3.5744, -0.4169, -5.6886], abs=1e-3)  # pinned weights


def test_dom_rows_place_each_paragraph():
    cands = pg.candidates("\n".join(ARTICLE + TEASERS + ["Not on the page"]), "\n".join(ARTICLE))
    rows = [dict(zip(pg.DOM_FEATURES, row)) for row in pg.dom_rows(load_html(PAGE), cands, range(len(cands)))]
    short, teaser, missing = rows[2], rows[4], rows[6]
    assert short == {"dom_found": 1.0, "in_article": 1.0, "in_article_body": 0.0, "in_figure": 0.0, "in_a": 0.0,
                     "in_li": 0.0, "in_h": 0.0, "content_token": 1.0, "link_density": 0.0, "in_main": 1.0,
                     "in_long_ancestor": 1.0, "long_sibling": 1.0}
    assert teaser["in_a"] == teaser["in_li"] == teaser["in_h"] == teaser["link_density"] == 1.0
    assert teaser["in_article"] == teaser["long_sibling"] == teaser["in_long_ancestor"] == teaser["content_token"] == 0
    assert missing["dom_found"] == 0.0 and set(missing.values()) == {0.0, -1.0}
    itemprop = load_html(f'<html><body><div itemprop="articleBody"><figure><figcaption>{ARTICLE[2]}</figcaption>'
                         f'</figure><p>{ARTICLE[0]}</p></div></body></html>')
    row = dict(zip(pg.DOM_FEATURES, pg.dom_rows(itemprop, cands, [2])[0]))
    assert row["in_article_body"] == row["in_figure"] == 1.0 and row["in_article"] == 0.0


def test_elements_of_finds_the_first_element_by_prefix_or_first_word():
    tree = load_html("<html><head><script>var A = 'Alpha beta gamma delta epsilon';</script></head><body>"
                     "<div>intro<p id=a>  Alpha   beta gamma\n delta epsilon zeta</p>tail text here</div>"
                     "<p id=b>Alpha beta gamma delta epsilon again</p><p id=c>Omega something else</p></body></html>")
    a, tail, b, word, none = pg.elements_of(tree, ["Alpha beta gamma delta epsilon zeta", "tail text here",
                                                    "Alpha beta gamma delta epsilon again", "Omega different",
                                                    "Nowhere to be seen"])
    assert a.get("id") == "a" and b.get("id") == "a"  # the same first 20 characters: the first element wins
    assert tail.tag == "div" and word.get("id") == "c" and none is None


def test_learned_decides_doubtful_pages_over_standard_mode_and_drops_by_the_dom(monkeypatch):
    """A page where fast mode keeps under half of resiliparse's text (doubtful) is decided too: standard mode's
    text with its fallbacks, plus the paragraphs the `add` model keeps (before: standard mode's text as it was);
    and `main_text` hands the decision the page's tree, so the `drop` model sees the DOM."""
    modes = {True: FAST.splitlines()[0], False: FAST}  # fast mode keeps one paragraph, standard mode three
    monkeypatch.setattr(extraction, "_run_mode", lambda tree, url, settings, fast, precision: modes[fast])
    monkeypatch.setattr(extraction, "resiliparse_text", lambda html: OTHER)
    monkeypatch.setattr(pg, "default_models", _models)  # keeps whatever ends a sentence, drops nothing
    tree = load_html("<html><body><p>x</p></body></html>")
    settings = ExtractionSettings(strategy="learned", timeout=0)
    assert main_text(tree, "http://x/a", settings, "<html></html>").splitlines() == [
        PROSE + " One.", "The mayor said the vote was a turning point.", PROSE + " Two.", PROSE + " Three."]
    monkeypatch.undo()
    monkeypatch.setattr(extraction, "_run_mode", lambda tree, url, settings, fast, precision: "\n".join(
        ARTICLE + TEASERS))
    monkeypatch.setattr(extraction, "resiliparse_text", lambda html: "\n".join(ARTICLE))
    assert main_text(load_html(PAGE), "http://x/a", settings, PAGE).splitlines() == ARTICLE + TEASERS[:1]


def test_candidates_are_the_union_in_document_order():
    cands = pg.candidates(FAST, OTHER)
    assert [c.text for c in cands] == [PROSE + " One.", "The mayor said the vote was a turning point.",
                                       PROSE + " Two.", "Share this article", PROSE + " Three.",
                                       "Related: more stories"]
    assert [(c.in_fast, c.in_other) for c in cands] == [(True, True), (False, True), (True, True), (False, True),
                                                        (True, True), (False, True)]
    # a resiliparse paragraph that fast mode has, however punctuated or cased, is not a second candidate
    assert len(pg.candidates("Hello, World! Again.", "hello world again")) == 1


def test_candidates_fold_each_distinct_line_once(monkeypatch):
    """resiliparse's lines that fast mode has verbatim take fast mode's folded form: folding every line was most of
    the cost of `candidates` (benchmarks/RESULTS.md, Extraction)."""
    fast = "\n".join([FAST, PROSE + " One."])  # a line fast mode repeats
    expected = pg.candidates(fast, OTHER)
    calls = []
    fold = pg.folded
    monkeypatch.setattr(pg, "folded", lambda text: calls.append(text) or fold(text))
    assert pg.candidates(fast, OTHER) == expected
    assert sorted(calls) == sorted(set(fast.splitlines()) | set(OTHER.splitlines()))


def test_the_shipped_model_leaves_chrome_out_and_keeps_fast_modes_vote():
    text = pg.decide(FAST, OTHER, None)
    assert "Share this article" not in text and "Related: more stories" not in text
    assert all(line in text.splitlines() for line in FAST.splitlines())
    assert pg.decide(FAST, OTHER, None) == text  # deterministic


def test_learned_strategy_adds_what_the_model_keeps(monkeypatch):
    monkeypatch.setattr(extraction, "_run_mode", lambda tree, url, settings, fast, precision: FAST)
    monkeypatch.setattr(extraction, "resiliparse_text", lambda html: OTHER)
    monkeypatch.setattr(pg, "default_models", _models)  # keeps whatever ends a sentence, drops nothing
    tree = load_html("<html><body><p>x</p></body></html>")
    text = main_text(tree, "http://x/a", ExtractionSettings(strategy="learned", timeout=0), "<html></html>")
    assert text.splitlines() == [PROSE + " One.", "The mayor said the vote was a turning point.", PROSE + " Two.",
                                 PROSE + " Three."]
    guarded = main_text(tree, "http://x/a", ExtractionSettings(strategy="guarded", timeout=0), "<html></html>")
    assert guarded == FAST


@pytest.mark.parametrize("name", ["en-subscribers-only.html", "fr-reserve-abonnes.html"])
def test_teaser_pages_stay_empty_text(name):
    html = (SITE_DIR / "articles" / name).read_text(encoding="utf-8")
    with pytest.raises(EmptyText):
        extract_page(html, f"http://x/{name}", ExtractionSettings(strategy="learned", timeout=0),
                     datetime(2026, 11, 30, tzinfo=timezone.utc))


_LINES = st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Zl", "Zp", "Cc")),
                          min_size=1, max_size=40), max_size=8)


@settings(max_examples=60, deadline=None)
@given(_LINES, _LINES)
def test_candidates_keep_every_line_of_fast_mode_in_order(fast_lines, other_lines):
    fast, other = "\n".join(fast_lines), "\n".join(other_lines)
    cands = pg.candidates(fast, other)
    assert [c.text for c in cands if c.in_fast] == [line for line in fast.splitlines() if line.strip()]
    for cand in cands:
        if not cand.in_fast:  # resiliparse's own: a line of its text that fast mode's words do not hold
            assert cand.in_other and cand.text in other.splitlines()
    rows = pg.features(cands, None)
    assert len(rows) == len(cands) and all(len(row) == len(pg.FEATURES) for row in rows)
    kept = pg.decide(fast, other, None).splitlines()
    assert all(line in fast.splitlines() or line in other.splitlines() for line in kept)


_BLOCKS = st.lists(st.tuples(st.sampled_from(["p", "div", "li", "a", "h2", "figcaption", "span", "article"]),
                              st.text(alphabet="abcdefgh ©", min_size=1, max_size=30)), min_size=1, max_size=10)


@settings(max_examples=50, deadline=None)
@given(_BLOCKS, st.lists(st.integers(0, 9), max_size=8), st.booleans())
def test_the_dom_signals_find_every_text_and_only_drop(blocks, shared, nested):
    """On generated pages: every paragraph is found in the DOM, the rows are well formed, and the tree only ever
    removes lines of fast mode from the decision (in order), never adds or reorders."""
    inner = "".join(f"<{tag}>{escape(text)}</{tag}>" for tag, text in blocks)
    tree = load_html(f"<html><body>{'<div class=content>' + inner + '</div>' if nested else inner}</body></html>")
    lines = [" ".join(text.split()) for _, text in blocks if text.strip()]
    fast = "\n".join(lines)
    other = "\n".join(lines[i % len(lines)] for i in shared) if lines else ""
    cands = pg.candidates(fast, other)
    assert all(element is not None for element in pg.elements_of(tree, [cand.text for cand in cands]))
    kept = [i for i, cand in enumerate(cands) if pg.fast_vote(cand)]
    rows = pg.drop_rows(cands, None, kept, tree)
    assert len(rows) == len(kept) and all(len(row) == len(pg.DROP_FEATURES) for row in rows)
    density = pg.DROP_FEATURES.index("link_density")
    assert all(0.0 <= row[density] <= 1.0 for row in rows)
    with_tree, without = pg.decide(fast, other, None, tree).splitlines(), pg.decide(fast, other, None).splitlines()
    remaining = iter(without)
    assert all(any(line == other for other in remaining) for line in with_tree)  # a subsequence


def _reference_candidates(fast, other):
    """`candidates` as first written (every line folded and searched for), the oracle of the faster version."""
    fast_lines = [line for line in fast.splitlines() if line.strip()]
    other_lines = [line for line in other.splitlines() if line.strip()]
    fast_folded = [f" {pg.folded(line)} " for line in fast_lines]
    other_folded = [f" {pg.folded(line)} " for line in other_lines]
    in_fast_all = " ".join(key.strip() for key in fast_folded if key.strip()).join("  ")
    in_other_all = " ".join(key.strip() for key in other_folded if key.strip()).join("  ")
    extra = [[] for _ in range(len(fast_lines) + 1)]
    anchor, seen = 0, set(fast_lines)
    for line, key in zip(other_lines, other_folded):
        if key.strip() and key in in_fast_all:
            hit = next((i for i in range(anchor, len(fast_lines)) if key in fast_folded[i]), None)
            if hit is None:
                hit = next((i for i in range(0, anchor) if key in fast_folded[i]), anchor - 1)
            anchor = hit + 1
        elif key.strip() and line not in seen:
            seen.add(line)
            extra[anchor].append(line)
    out = [pg.Candidate(line, False, True) for line in extra[0]]
    for i, line in enumerate(fast_lines):
        out.append(pg.Candidate(line, True, fast_folded[i] in in_other_all))
        out.extend(pg.Candidate(extra_line, False, True) for extra_line in extra[i + 1])
    return out


@settings(max_examples=80, deadline=None)
@given(_LINES, _LINES, st.lists(st.integers(0, 7), max_size=8), st.randoms(use_true_random=False))
def test_candidates_decide_as_the_reference_does(fast_lines, own_lines, shared, rng):
    """resiliparse's text mixing fast mode's lines verbatim (the shortcuts) with lines of its own, shuffled."""
    other_lines = own_lines + [fast_lines[i % len(fast_lines)] for i in shared if fast_lines]
    rng.shuffle(other_lines)
    fast, other = "\n".join(fast_lines), "\n".join(other_lines)
    assert pg.candidates(fast, other) == _reference_candidates(fast, other)


def test_export_decides_as_scikit_learn_does():
    ensemble = pytest.importorskip("sklearn.ensemble")  # the `test` extra; the training script needs it
    from benchmarks import train_paragraphs as tp

    rng = random.Random(0)
    rows = [[rng.random() * 10 for _ in pg.FEATURES] for _ in range(300)]
    labels = [int(row[2] + row[5] > 10) for row in rows]
    model = ensemble.GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(rows, labels)
    shipped = pg.Model(tp.export(model))
    assert tp.serialise(tp.export(model)) == tp.serialise(tp.export(
        ensemble.GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(rows, labels)))
    expected = model.decision_function(rows)
    assert [shipped.score(row) for row in rows] == pytest.approx(list(expected), abs=1e-6)


class _Labelled:
    """A labelled page for the training script's held-out protocol: one `add` row (its page's number) and one
    `with` segment, found when the `add` decision keeps the row."""

    def __init__(self, number: int):
        self.number, self.rows, self.kept_rows = number, [[float(number)]], []
        self.texts = {"with_": (f"segment {number}",), "without": ()}

    def text(self, added, kept=None) -> str:
        return self.texts["with_"][0] if added[0] else ""


class _Recorder:
    """A stand-in model that remembers its training pages. Trained on the dev pages alone it keeps the rows of
    even-numbered pages; trained on more, every row of a page it did not see (so a fold scored by a model that saw
    it loses its segments)."""

    def __init__(self, pages, dev_count: int):
        self.seen, self.more = {p.number for p in pages}, len(pages) > dev_count

    def predict_proba(self, rows):
        import numpy as np

        keep = [int(row[0]) not in self.seen and (self.more or int(row[0]) % 2 == 0) for row in rows]
        return np.array([[0.0, 1.0] if k else [1.0, 0.0] for k in keep])


def test_held_out_cv_scores_each_fold_with_models_that_did_not_see_it(monkeypatch):
    pytest.importorskip("sklearn")  # the training script's module needs it only to fit; numpy comes with it
    from types import SimpleNamespace

    from benchmarks import train_paragraphs as tp

    dev, held = [_Labelled(i) for i in range(10)], [_Labelled(100 + i) for i in range(23)]
    extra = [_Labelled(200)]
    trained = []

    def fit(pages):
        trained.append([p.number for p in pages])
        return _Recorder(pages, len(dev))

    monkeypatch.setattr(tp, "fit", fit)
    monkeypatch.setattr(tp, "fit_drop", fit)
    never = SimpleNamespace(keep=lambda row: False)
    monkeypatch.setattr(pg, "default_models", lambda: SimpleNamespace(add=never, drop=never))
    report = io.StringIO()
    figures = tp.held_out_cv(dev, held, extra, out=report)
    assert figures["all"] == (pytest.approx(2 * (12 / 23) / (1 + 12 / 23)), 1.0)  # 12 of the 23 pages are even
    assert all(figures[fold][1] == 1.0 > figures[fold][0] for fold in range(tp.FOLDS))  # each fold: unseen models
    folds = trained[2:]  # after the dev-only pair: an `add` and a `drop` model per fold
    assert trained[:2] == [list(range(10))] * 2 and len(folds) == 2 * tp.FOLDS
    for fold in range(tp.FOLDS):
        expected = list(range(10)) + [200] + [100 + i for i in range(23) if i % tp.FOLDS != fold]
        assert folds[2 * fold] == folds[2 * fold + 1] == expected
    assert "decide 12 of the 23 held-out rows otherwise" in report.getvalue()  # the shipped ones keep none
