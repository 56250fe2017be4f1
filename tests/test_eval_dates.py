"""benchmarks/eval_dates.py reads a date-labelled set laid out as htmldate's evaluation data and scores it."""
import io

from benchmarks import eval_dates as ev


def test_a_date_labelled_set_in_htmldate_layout_is_read_and_scored(tmp_path):
    (tmp_path / "test_set").mkdir()
    (tmp_path / "eval").mkdir()
    page = '<html><head><meta property="article:published_time" content="2020-06-07T10:00:00+02:00"></head>' \
           '<body><p>text</p></body></html>'
    (tmp_path / "test_set" / "a.html").write_text(page, encoding="utf-8")
    (tmp_path / "eval" / "b.html").write_bytes(
        '<html><head><meta charset="iso-8859-1"></head><body><p>no date, é</p></body></html>'.encode("latin-1"))
    (tmp_path / "eval_mediacloud_2020.json").write_text(
        '{"http://x/a": {"file": "a.html", "date": "2020-06-07"}, '
        '"http://x/nan": {"file": "a.html", "date": NaN}}', encoding="utf-8")  # htmldate's data has unlabelled pages
    (tmp_path / "eval_default.json").write_text('{"http://x/b": {"file": "b.html", "date": "2019-01-02"}}',
                                                encoding="utf-8")
    pages = ev.load_pages(tmp_path)
    assert [(p.subset, p.url, p.day) for p in pages] == [("mediacloud", "http://x/a", "2020-06-07"),
                                                         ("default", "http://x/b", "2019-01-02")]
    assert "é" in pages[1].html  # decoded as the pipeline decodes (htmldate's pages are not all UTF-8)
    report = io.StringIO()
    figures = ev.score(pages, ["newsbeam", "htmldate-fast"], out=report)
    assert figures["newsbeam"]["all"]["right"] == 1 and figures["newsbeam"]["all"]["dated"] == 1, report.getvalue()
    assert figures["newsbeam"]["all"]["pages"] == 2 and figures["newsbeam"]["all"]["future"] == 0


def test_the_halves_split_the_set_by_crc32_of_the_url():
    pages = [ev.DatedPage("default", f"http://x/{i}", "<html><body><p>t</p></body></html>", "2020-01-01")
             for i in range(20)]
    even = [p for p in pages if ev.in_half(p, "even")]
    odd = [p for p in pages if ev.in_half(p, "odd")]
    assert sorted(even + odd) == sorted(pages) and even and odd
    assert all(ev.in_half(p, "all") for p in pages)
    report = io.StringIO()
    ev.score(pages[:2], ["htmldate-fast"], out=report, per_page=True)
    assert "htmldate-fast wrong: label 2020-01-01 answer None http://x/0" in report.getvalue()
