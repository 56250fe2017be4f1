"""The held-out benchmark's scorer (benchmarks/eval_unseen.py), on texts and a two-page checkout made here."""
import gzip
import json

import pytest

from benchmarks.eval_unseen import load_pages, main, page_counts, scores


def test_shingle_counts_are_normalised_per_page():
    assert page_counts("a b c d e", "a b c d e") == (1.0, 0.0, 0.0)
    assert page_counts("a b c d e", "a b c d x") == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert page_counts("a b c d e", "") == (0.0, 0.0, 1.0)
    assert page_counts("one two", "one two") == (1.0, 0.0, 0.0)  # under four tokens: one short shingle
    # a long article counts as much as a short one
    def words(count):
        return " ".join(f"w{i}" for i in range(count))

    assert page_counts(words(4000), words(2000)) == pytest.approx(page_counts(words(400), words(200)), abs=0.01)


def test_an_empty_prediction_costs_recall_and_leaves_precision_alone():
    f1, precision, recall = scores([(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)])
    assert (precision, recall) == (1.0, 0.5) and f1 == pytest.approx(2 / 3)


def test_a_checkout_is_read_and_scored(tmp_path, capsys):
    sentence = "The council met on Tuesday evening and agreed the budget after a long debate about schools. "
    truth = {}
    (tmp_path / "html").mkdir()
    for key, paragraphs in (("a1", 6), ("b2", 8)):
        lines = [f"{sentence}Paragraph {i} adds its own words." for i in range(paragraphs)]
        body = "".join(f"<p>{line}</p>" for line in lines)
        html = f"<html><head><title>Budget</title></head><body><nav>Home</nav><article>{body}</article></body></html>"
        with gzip.open(tmp_path / "html" / f"{key}.html.gz", "wt", encoding="utf-8") as stream:
            stream.write(html)
        truth[key] = {"url": f"https://news.example/{key}", "articleBody": "\n".join(lines)}
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth), encoding="utf-8")
    assert [page.key for page in load_pages(tmp_path)] == ["a1", "b2"]
    assert main(["--benchmark", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2 pages" and lines[1].split()[0] == "system"
    for line, name in zip(lines[2:], ("newsbeam", "trafilatura")):
        assert line.split()[0] == name and float(line.split()[1]) > 0.9, line
