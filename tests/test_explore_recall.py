"""The recall exploration's scoring and guards (benchmarks/explore_recall.py), on pages made here."""
import pytest

from benchmarks.explore_recall import contained, recall_guard, score

PROSE = "The council met on Tuesday evening and agreed the budget after a long debate about the schools. "


def page(split="held-out", **texts):
    base = dict(corpus="traf", split=split, url="http://x/a", html="<p>x</p>", fast="", res="", bal="", plain="",
                body=None, with_=(), without=())
    return {**base, **texts}


def test_contained_counts_words_with_their_counts():
    assert contained("a b", "b a c") == 1.0
    assert contained("a a b", "a b") == pytest.approx(2 / 3)
    assert contained("", "anything") == 1.0


def test_segments_are_scored_per_half_and_readability_by_zytes_measure():
    pages = [page(with_=("agreed the budget",), without=("Subscribe now",)),
             page(split="dev", with_=("agreed the budget",)),
             dict(page(split="read", expected=PROSE * 3), corpus="read")]
    result = score(pages, [PROSE + "Subscribe now", "", PROSE * 3])
    assert result["held-out"] == pytest.approx((2 / 3, 0.5, 1.0))
    assert result["dev"] == (0.0, 0.0, 0.0)  # nothing found
    assert result["read"][0] == pytest.approx(1.0)


def test_the_recall_guard_takes_the_longer_text_only_when_it_holds_the_shorter():
    longer = PROSE * 8
    holds = page(bal=longer, res=longer)
    assert recall_guard(holds, PROSE, 0.5, 0.8, False) == longer
    assert recall_guard(holds, PROSE * 6, 0.5, 0.8, False) == PROSE * 6  # not short enough
    other = "Completely different words fill this page about football results and weather. " * 3
    assert recall_guard(holds, other, 0.5, 0.8, False) == other  # not contained
    assert recall_guard(page(bal=longer, res=PROSE), PROSE, 0.5, 0.8, True) == PROSE  # resiliparse disagrees
