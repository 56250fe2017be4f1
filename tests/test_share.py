"""ShareOut and ShareAsListed: elements shared out among workers as they go, each exactly once."""
import os
import pickle
import subprocess
import sys
import threading
import time

from apache_beam.transforms.window import GlobalWindow, IntervalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Timestamp

from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.transforms.share import _LENGTH, _claim, _ClaimFn, _Listings, _ListFn, _ListThenClaimFn


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


# ShareAsListed: listed during the stage that makes the elements, claimed by every bundle of it once its own are
# listed, until all the stage's bundles have listed theirs.

def _lister(root, bundles=2, grace=5.0, help_backlog=100):
    step = _ListThenClaimFn(str(root), bundles, "taken", "early", "kept", grace=grace, help_backlog=help_backlog)
    step.setup()
    step.start_bundle()
    return step


def _list(step, elements, timestamp=Timestamp(7), window=GlobalWindow()):
    for element in elements:
        assert list(step.process(element, timestamp, window)) == []  # nothing goes on before it is claimed


def _finish_in_thread(step):
    got = []
    thread = threading.Thread(target=lambda: got.extend(v.value for v in step.finish_bundle()), daemon=True)
    thread.start()
    return thread, got


def _claimed(root):
    return len(os.listdir(root / "claims"))


def _wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_bundle_with_nothing_to_list_takes_the_elements_another_lists_while_it_lists_them(tmp_path):
    fetching, idle = _lister(tmp_path), _lister(tmp_path)
    _list(fetching, range(5))
    thread, idle_got = _finish_in_thread(idle)  # its own (none) are listed: it claims the other's as they come
    _wait_for(lambda: _claimed(tmp_path) == 5)
    assert thread.is_alive()  # the other still lists: it waits for more
    _list(fetching, range(5, 10))
    _wait_for(lambda: _claimed(tmp_path) == 10)
    assert thread.is_alive()
    fetching_got = [v.value for v in fetching.finish_bundle()]
    thread.join(10)
    assert not thread.is_alive()
    assert sorted(idle_got + fetching_got) == list(range(10))  # each once
    assert len(idle_got) == 10 and fetching_got == []


def test_elements_come_back_in_their_window_and_at_their_time(tmp_path):
    window = IntervalWindow(Timestamp(0), Timestamp(60))
    lone = _lister(tmp_path, bundles=1)
    _list(lone, [("ref", 0, 10)], timestamp=MIN_TIMESTAMP, window=window)
    assert [(v.value, v.windows, v.timestamp) for v in lone.finish_bundle()] == [
        (("ref", 0, 10), (window,), MIN_TIMESTAMP)]


def test_the_others_stop_waiting_for_a_bundle_that_failed(tmp_path):
    failing, idle = _lister(tmp_path), _lister(tmp_path)
    _list(failing, ["a", "b"])
    thread, got = _finish_in_thread(idle)
    _wait_for(lambda: _claimed(tmp_path) == 2)
    failing.teardown()  # Beam tears down the steps of a failed bundle: it never listed all of its own
    thread.join(10)
    assert not thread.is_alive() and sorted(got) == ["a", "b"]


def test_the_others_stop_waiting_for_a_bundle_whose_process_ended(tmp_path):
    killed, idle = _lister(tmp_path), _lister(tmp_path)
    _list(killed, ["a"])
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    # as if its worker process had been killed: the marker names a pid that no longer runs
    (tmp_path / "bundles" / f"{killed._id}.started").write_text(gone.stdout.strip())
    thread, got = _finish_in_thread(idle)
    thread.join(10)
    assert not thread.is_alive() and got == ["a"]


def test_a_bundle_waits_for_the_expected_bundles_to_start_only_for_the_grace_period(tmp_path):
    lone = _lister(tmp_path, bundles=2, grace=0.3)
    started = time.monotonic()
    assert list(lone.finish_bundle()) == []
    assert 0.3 <= time.monotonic() - started < 5
    # a bundle that starts late is not lost: it claims what it lists itself
    late = _lister(tmp_path, bundles=2, grace=0.3)
    _list(late, ["x"])
    assert [v.value for v in late.finish_bundle()] == ["x"]


def test_a_lister_whose_listed_elements_wait_unclaimed_keeps_the_next_ones_itself(tmp_path):
    fetching = _lister(tmp_path, bundles=1, help_backlog=3)
    _list(fetching, range(3))
    # three listed and unclaimed: the others cannot keep up, so the next ones go on here at once, never listed
    assert list(fetching.process(3)) == [3] and list(fetching.process(4)) == [4]
    assert _claim(str(tmp_path / "claims"), 0)  # another worker claims the oldest: two wait
    _list(fetching, [5])
    assert list(fetching.process(6)) == [6]
    finished = [v.value for v in fetching.finish_bundle()]
    assert sorted(finished) == [1, 2, 5]  # what it listed and nobody claimed: each element once in all
    assert _claimed(tmp_path) == 4


@settings(max_examples=60, deadline=None)
@given(elements=st.lists(st.one_of(st.binary(max_size=40), st.tuples(st.text(max_size=10), st.integers())),
                         max_size=12),
       cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=6))
def test_listings_read_whole_records_only_however_the_index_grows(tmp_path_factory, elements, cuts):
    index = tmp_path_factory.mktemp("index")
    records = b"".join(_LENGTH.pack(len(data)) + data for data in (
        pickle.dumps((element, Timestamp(1), GlobalWindow())) for element in elements))
    reader, seen = _Listings(str(index)), []
    with open(index / "bundle", "wb", buffering=0) as file:
        for cut in sorted({min(cut, len(records)) for cut in cuts} | {len(records)}):
            file.write(records[file.tell():cut])  # the lister is part-way through a record at any of these
            seen += [element for _, element, _, _ in reader.new()]
    assert seen == elements
    assert reader.new() == []
