"""The repeat wrapper's arithmetic: ratios of articles a second per repeat, and their medians."""
from benchmarks.bench_repeat import others, rates, summary


def _figures(pool_wall: float, cli_wall: float, pipeline_seconds: float, foreign: float = 0.0) -> dict:
    return {
        "floor": {"pool": {"articles": 100, "wall": pool_wall, "foreign_cpu": foreign}},
        "trafilatura_cli": [{"name": "trafilatura CLI (same)", "articles": 90, "wall": cli_wall, "foreign_cpu": None}],
        "runs": [{"mode": "multi", "seconds": pipeline_seconds, "counters": {"articles.written": 100},
                  "foreign_cpu": 1.5}],
    }


def test_rates_are_articles_a_second_of_each_row():
    assert rates(_figures(10.0, 9.0, 20.0)) == {"floor pool": 10.0, "trafilatura CLI (same)": 10.0,
                                                  "pipeline multi": 5.0}


def test_summary_gives_each_repeat_s_ratio_and_their_median():
    text = summary([_figures(10.0, 9.0, 20.0), _figures(10.0, 9.0, 12.5, foreign=2.0), _figures(10.0, 9.0, 10.0)])
    assert "pipeline multi / floor pool: median 0.80 x (0.50, 0.80, 1.00)" in text
    assert "pipeline multi / trafilatura CLI (same): median 0.80 x (0.50, 0.80, 1.00)" in text
    assert text.splitlines()[0] == "3 repeats; CPU s other programs used during each: 1.5, 3.5, 1.5"


def test_others_counts_missing_figures_as_zero():
    assert others({"floor": None, "trafilatura_cli": [{"foreign_cpu": None}], "runs": []}) == 0.0
