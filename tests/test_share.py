"""ShareOut: elements shared out among workers as they go, each exactly once."""
from apache_beam.transforms.window import GlobalWindow, IntervalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Timestamp

from newsbeam.transforms.share import _ClaimFn, _ListFn


def _listed(index_dir, elements, timestamp=Timestamp(7), window=GlobalWindow(), finish=True):
    step = _ListFn(index_dir)
    step.start_bundle()
    out = [e for element in elements for e in step.process(element, timestamp, window)]
    if finish:
        step.finish_bundle()
    return out


def test_a_worker_done_with_its_elements_takes_over_the_unclaimed_ones_of_another_exactly_once(tmp_path):
    index, claims = str(tmp_path / "index"), str(tmp_path / "claims")
    window = IntervalWindow(Timestamp(0), Timestamp(60))
    ranges = [("a.warc.gz", n * 100, n * 100 + 100) for n in range(12)]
    first = _listed(index, ranges[:5], window=window)
    second = _listed(index, ranges[5:10], window=window)
    _listed(index, ranges[10:], finish=False)  # a bundle that failed: its elements were never handed out, nor listed
    # the runner deals worker A the first 5, worker B the other 5; B is done first
    a, b = _ClaimFn(index, claims, "taken"), _ClaimFn(index, claims, "taken")
    for worker in (a, b):
        worker.setup()
    got_b = [e for element in second for e in b.process(element)]
    got_a = list(a.process(first[0]))  # A has claimed its first one meanwhile
    taken = list(b.finish_bundle())
    got_a += [e for element in first[1:] for e in a.process(element)]
    assert list(a.finish_bundle()) == []
    assert got_b == ranges[5:10] and got_a == ranges[:1]
    # B took A's four unclaimed ones, each in the window and at the time it was listed with
    assert sorted(v.value for v in taken) == ranges[1:5]
    assert all(v.windows == (window,) and v.timestamp == Timestamp(7) for v in taken)
    assert list(b.finish_bundle()) == []  # nothing is left to take


def test_elements_in_the_global_window_come_back_there(tmp_path):
    index, claims = str(tmp_path / "index"), str(tmp_path / "claims")
    _listed(index, [("ref", 0, 10)], timestamp=MIN_TIMESTAMP)
    lone = _ClaimFn(index, claims, "taken")
    lone.setup()
    assert [(v.value, v.windows, v.timestamp) for v in lone.finish_bundle()] == [
        (("ref", 0, 10), (GlobalWindow(),), MIN_TIMESTAMP)]


def test_a_worker_with_nothing_listed_takes_nothing(tmp_path):
    lone = _ClaimFn(str(tmp_path / "index"), str(tmp_path / "claims"), "taken")
    lone.setup()
    assert list(lone.finish_bundle()) == []
