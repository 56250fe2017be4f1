"""Incremental state, pure parts: the segmented store, the seen index and its retry schedule, near duplicates."""
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest
from apache_beam.io.filesystems import FileSystems

from newsbeam.neardup import PriorBands, assign_groups, fingerprint, shingles
from newsbeam.seen import (DUE, GIVEN_UP, SEEN_SCHEMA, UNKNOWN, WAITING, WRITTEN, SeenIndex, load_seen, seen_rows,
                           url_key)
from newsbeam.state import SegmentedTable
from newsbeam.pipelines.options import UsageError, parse_moment
from newsbeam.schemas.records import FeedItem
from newsbeam.transforms.backfill import Window, newest_first

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
TS = pa.timestamp("us", tz="UTC")


def dead(run_id, url, reason, at=T0):
    table = pa.table({"url": [url], "feed_url": ["http://f/rss"], "stage": ["fetch"], "reason": [reason],
                      "failed_at": pa.array([at], TS)})
    return seen_rows(run_id, None, table)


def written(run_id, url, canonical=None):
    table = pa.table({"url": [url], "canonical_url": [canonical or url], "fetched_at": pa.array([T0], TS)})
    return seen_rows(run_id, table, None)


def test_an_article_is_known_by_its_listed_and_its_canonical_url():
    index = SeenIndex(written("r1", "http://e.org/a?utm_source=rss", "http://e.org/story"), T0)
    assert index.status(url_key("http://e.org/a")) == WRITTEN
    assert index.status(url_key("http://e.org/story")) == WRITTEN
    assert index.status(url_key("http://e.org/other")) == UNKNOWN


@pytest.mark.parametrize("failures, reason, hours_later, status", [
    (1, "timeout", 0.5, WAITING),  # first retry after 1 h
    (1, "timeout", 2, DUE),
    (2, "http_5xx", 2, WAITING),  # second retry after 6 h
    (2, "http_5xx", 7, DUE),
    (3, "connection_error", 25, DUE),
    (4, "timeout", 1000, GIVEN_UP),  # bounded: four failures and no more
    (1, "http_404", 1000, GIVEN_UP),  # not transient: never retried
    (1, "robots_disallowed", 1000, GIVEN_UP),
    (1, "empty_text", 1000, GIVEN_UP),
])
def test_retry_schedule(failures, reason, hours_later, status):
    rows = [dead(f"r{i}", "http://e.org/x", reason, T0 - timedelta(hours=failures - 1 - i)) for i in range(failures)]
    index = SeenIndex(pa.concat_tables(rows), T0 + timedelta(hours=hours_later))
    assert index.status(url_key("http://e.org/x")) == status
    assert index.due_retries() == ([("http://e.org/x", "http://f/rss", reason)] if status == DUE else [])


def test_a_later_success_wins_over_earlier_failures():
    rows = pa.concat_tables([dead("r1", "http://e.org/x", "timeout"), written("r2", "http://e.org/x")])
    assert SeenIndex(rows, T0 + timedelta(days=9)).status(url_key("http://e.org/x")) == WRITTEN


def test_empty_index():
    index = SeenIndex(SEEN_SCHEMA.empty_table(), T0)
    assert len(index) == 0 and index.status(1) == UNKNOWN and index.due_retries() == []


def test_segmented_table_excludes_a_rerun_and_survives_compaction(tmp_path):
    table = SegmentedTable(str(tmp_path), "seen", SEEN_SCHEMA)
    assert table.read().num_rows == 0 and table.snapshot()[1] == set()
    for i in range(5):
        table.write_segment(f"r{i}", written(f"r{i}", f"http://e.org/{i}"))
    before = table.read().sort_by("key")
    assert table.read(exclude_run="r3").num_rows == 4
    assert table.compact("r5", max_segments=3)
    assert [p.name for p in (tmp_path / "_state" / "seen").iterdir()] == ["base-r5.parquet"]
    assert table.read().sort_by("key") == before
    assert table.read(exclude_run="r3").num_rows == 4  # run ids survive compaction
    assert table.snapshot()[1] == {f"r{i}" for i in range(5)}
    # a compaction interrupted before it deleted the merged segments must not count them twice
    table.write_segment("r2", written("r2", "http://e.org/2"))
    assert table.read().num_rows == 5


def based_table(tmp_path) -> SegmentedTable:
    """A seen table holding runs r0-r2 in a base (made by r3) and r4 in a segment."""
    table = SegmentedTable(str(tmp_path), "seen", SEEN_SCHEMA)
    for i in range(3):
        table.write_segment(f"r{i}", written(f"r{i}", f"http://e.org/{i}"))
    table.compact("r3", max_segments=1)
    table.write_segment("r4", written("r4", "http://e.org/4"))
    return table


def counted_listings(monkeypatch, under: str = "") -> list:
    """The FileSystems.match patterns (containing `under`) asked from now on."""
    listings, match = [], FileSystems.match

    def counted(patterns, *rest):
        listings.extend(p for p in patterns if under in p)
        return match(patterns, *rest)

    monkeypatch.setattr(FileSystems, "match", counted)
    return listings


def test_a_state_table_lists_its_folder_once_per_read_and_per_compaction(tmp_path, monkeypatch):
    """Each listing is a billed request on an object store: bases and segments come from one."""
    table = based_table(tmp_path)
    listings = counted_listings(monkeypatch)
    assert table.read(exclude_run="r1").num_rows == 3 and len(listings) == 1
    rows, covered = table.snapshot(exclude_run="r1")
    assert rows.num_rows == 3 and covered == {"r0", "r1", "r2", "r4"} and len(listings) == 2
    table.write_segment("r5", written("r5", "http://e.org/5"))
    listings.clear()
    assert table.compact("r6", max_segments=1) and len(listings) == 1
    assert sorted(p.name for p in (tmp_path / "_state" / "seen").iterdir()) == ["base-r6.parquet"]
    assert table.read().num_rows == 5


def test_a_run_loads_its_seen_state_with_one_listing_of_the_state_folder(tmp_path, monkeypatch):
    """load_seen needs the rows and the runs they cover: one snapshot, not a read and a second listing for the runs."""
    table = based_table(tmp_path)
    rows, covered = table.snapshot(exclude_run="r1")
    assert rows.equals(table.read(exclude_run="r1")) and covered == {"r0", "r1", "r2", "r4"}
    listings = counted_listings(monkeypatch, under="_state")
    index = load_seen(str(tmp_path), "r5", T0)
    assert len(listings) == 1, listings
    assert index.status(url_key("http://e.org/4")) == WRITTEN and index.status(url_key("http://e.org/1")) == WRITTEN


def test_no_partial_state_file_is_ever_visible(tmp_path):
    table = SegmentedTable(str(tmp_path), "seen", SEEN_SCHEMA)
    (tmp_path / "_state" / "seen").mkdir(parents=True)
    (tmp_path / "_state" / "seen" / ".segment-r9.parquet.abc.inprogress").write_bytes(b"half a file")
    table.write_segment("r1", written("r1", "http://e.org/1"))
    assert table.read().num_rows == 1 and table.snapshot()[1] == {"r1"}


# --- near duplicates: precision and recall on constructed pairs ----------------------------------------------------

STORIES = [
    "The trial of three women who returned from the al-Hol camp opened in Brussels on Tuesday. Prosecutors accuse "
    "them of membership of a terrorist organisation and of taking their children to Raqqa in 2015. Defence lawyers "
    "said the women had been deceived by recruiters and had tried to leave the group in 2017.",
    "Kurdish-led forces said they had transferred two hundred detainees from a prison in Hasakah to a new facility "
    "near Qamishli after a week of clashes. Officials of the Syrian Democratic Forces said the move was temporary "
    "and that families would be informed through the Red Cross.",
    "Turkish police detained eleven people in Istanbul and Gaziantep suspected of smuggling foreign fighters across "
    "the border, the interior ministry said. Investigators seized forged passports, cash and phones used to "
    "coordinate crossings near Kilis during the summer months.",
    "A court in The Hague sentenced a returnee to six years in prison for membership of Islamic State and for "
    "posing with weapons in propaganda videos. Judges said the woman had played an active role in the group's "
    "morality police in Raqqa between 2015 and 2017.",
    "Germany repatriated four women and eleven children from the Roj camp in north-east Syria, the foreign "
    "ministry in Berlin said. The women were arrested on arrival at Frankfurt airport on warrants issued by the "
    "federal prosecutor in Karlsruhe for membership of a foreign terrorist organisation.",
]


def light_edits(text):
    """What syndication does to a wire story: a new headline line, a dateline, a credit, small wording changes."""
    return ("UPDATED - " + text.replace(" said", " told reporters", 1)
            + " Additional reporting by the Sample Courier staff.")


def test_near_duplicate_precision_and_recall_on_constructed_pairs():
    copies = [(f"s{i}", text) for i, text in enumerate(STORIES)] + \
             [(f"s{i}-copy", light_edits(text)) for i, text in enumerate(STORIES)]
    empty = PriorBands([], np.zeros((0, 32), dtype=np.uint64))
    groups = assign_groups([fingerprint(i, text) for i, text in copies], empty)
    pairs = [(a, b) for a, _ in copies for b, _ in copies if a < b]
    same_story = {(a, b) for a, b in pairs if a.split("-")[0] == b.split("-")[0]}
    grouped = {(a, b) for a, b in pairs if groups[a] == groups[b]}
    precision = len(grouped & same_story) / max(len(grouped), 1)
    recall = len(grouped & same_story) / len(same_story)
    print(f"near-duplicate pairs: precision {precision:.2f}, recall {recall:.2f} on {len(pairs)} constructed pairs")
    assert precision == 1.0 and recall == 1.0


def test_groups_reach_across_runs_through_stored_bands():
    first = fingerprint("aaa", STORIES[0])
    prior = PriorBands(["aaa"], np.array([first.bands], dtype=np.uint64))
    later = assign_groups([fingerprint("zzz", light_edits(STORIES[0])), fingerprint("yyy", STORIES[1])], prior)
    assert later == {"zzz": "aaa", "yyy": "yyy"}


def test_grouping_does_not_depend_on_arrival_order():
    prints = [fingerprint(f"id{i}", text) for i, text in enumerate(STORIES + [light_edits(t) for t in STORIES])]
    empty = PriorBands([], np.zeros((0, 32), dtype=np.uint64))
    assert assign_groups(prints, empty) == assign_groups(list(reversed(prints)), empty)


def test_shingles_ignore_case_and_punctuation():
    assert shingles("Deir ez-Zor, RAQQA and Hasakah", 3) == shingles("deir ez zor raqqa and hasakah!", 3)
    assert shingles("", 3) == [] and shingles("one two", 3) == [b"one two"]


# --- backfill controls -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, end_of_day, expected", [
    ("2026-11-01", False, datetime(2026, 11, 1, tzinfo=timezone.utc)),
    ("2026-11-01", True, datetime(2026, 11, 2, tzinfo=timezone.utc)),
    ("2026-11-01T10:00:00+02:00", True, datetime(2026, 11, 1, 8, tzinfo=timezone.utc)),
    ("2026-11-01T10:00:00Z", False, datetime(2026, 11, 1, 10, tzinfo=timezone.utc)),
])
def test_parse_moment(value, end_of_day, expected):
    assert parse_moment("since", value, end_of_day) == expected


def test_parse_moment_rejects_garbage():
    with pytest.raises(UsageError, match="--since"):
        parse_moment("since", "last tuesday")


def test_window_keeps_undated_items():
    window = Window(since=T0, until=T0 + timedelta(days=1))
    assert window.admits(None) and window.admits(T0) and not window.admits(T0 + timedelta(days=1))
    assert not window.admits(T0 - timedelta(seconds=1))


def test_cap_order_is_newest_first_then_url():
    items = [FeedItem("http://e/b", "http://e/b", published_at=T0), FeedItem("http://e/c", "http://e/c"),
             FeedItem("http://e/a", "http://e/a", published_at=T0), FeedItem("http://e/n", "http://e/n",
                                                                          published_at=T0 + timedelta(hours=1))]
    assert [i.url for i in newest_first(items)] == ["http://e/n", "http://e/a", "http://e/b", "http://e/c"]


def _site_texts():
    import trafilatura

    from newsbeam.sample_site import SITE_DIR, article_paths

    texts = {}
    for path in article_paths():
        text = trafilatura.extract((SITE_DIR / path.lstrip("/")).read_text(encoding="utf-8"), fast=True,
                                   favor_precision=True)
        if text and len(text) > 500:
            texts[path.rsplit("/", 1)[-1][:-5]] = text
    return texts


EDITS = {
    "headline_credit": light_edits,
    "last_paragraph_dropped": lambda t: "\n".join(t.split("\n")[:-1]),
    "every_20th_word_changed": lambda t: " ".join(w + "x" if i % 20 == 0 else w for i, w in enumerate(t.split(" "))),
    "paragraphs_reordered": lambda t: "\n".join(reversed(t.split("\n"))),
}


def test_near_duplicate_precision_on_the_sample_site():
    """Every sample article plus four kinds of syndicated copy; different stories (many on the same topics, in
    the same language) must never share a group. The figures are recorded in the README."""
    texts = _site_texts()
    docs = [(name, text) for name, text in texts.items()]
    docs += [(f"{name}~{edit}", change(text)) for name, text in texts.items() for edit, change in EDITS.items()]
    empty = PriorBands([], np.zeros((0, 32), dtype=np.uint64))
    groups = assign_groups([fingerprint(name, text) for name, text in docs], empty)
    names = [name for name, _ in docs]
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    same = {(a, b) for a, b in pairs if a.split("~")[0] == b.split("~")[0]}
    grouped = {(a, b) for a, b in pairs if groups[a] == groups[b]}
    precision = len(grouped & same) / max(len(grouped), 1)
    recall = len(grouped & same) / len(same)
    print(f"near duplicates on {len(texts)} sample stories x {len(EDITS)} edits: {len(pairs)} pairs, "
          f"precision {precision:.3f}, recall {recall:.3f}")
    assert len(texts) >= 28
    assert precision == 1.0 and recall >= 0.95


# --- near-duplicate grouping, one linked set at a time: the same groups as the one-list algorithm it replaced ---

def _groups_in_one_pass(run, prior, settings):
    """The grouping as it was before issue 16: every fingerprint of the run, signature included, in one list, and
    every pair that shares a band counted across the whole run."""
    from newsbeam.neardup import estimated_jaccard

    ordered = sorted(run, key=lambda f: f.article_id)
    shared = {}
    by_key = {}
    for position, current in enumerate(ordered):
        for key in current.bands:
            for earlier in by_key.get(key, []):
                shared.setdefault(position, {}).setdefault(earlier, 0)
                shared[position][earlier] += 1
            by_key.setdefault(key, []).append(position)
    groups = {}
    for position, current in enumerate(ordered):
        candidates = {g: n for g, n in prior.hits(current.bands).items() if n >= settings.min_band_hits}
        for earlier, n in shared.get(position, {}).items():
            other = ordered[earlier]
            if n >= settings.min_band_hits and \
                    estimated_jaccard(current.signature, other.signature) >= settings.min_jaccard:
                group = groups[other.article_id]
                candidates[group] = max(candidates.get(group, 0), n)
        groups[current.article_id] = min(candidates, key=lambda g: (-candidates[g], g)) if candidates \
            else current.article_id
    return groups


_WORDS = [f"w{n}" for n in range(300)]


def _edited(story, changes, seed):
    import random

    rng = random.Random(seed)
    words = list(story)
    for _ in range(changes):
        words[rng.randrange(len(words))] = rng.choice(_WORDS)
    return " ".join(words)


def test_grouping_by_linked_sets_gives_the_groups_of_the_one_list_algorithm():
    from hypothesis import given, settings as hyp_settings, strategies as st

    from newsbeam.neardup import NearDupSettings

    near = NearDupSettings()
    stories = [[_WORDS[(n * 7 + i * 13 + i * i) % len(_WORDS)] for i in range(60)] for n in range(5)]
    # copies with few changes group, with many do not; ids shuffled against the stories; some stories in the prior
    docs = st.lists(st.tuples(st.integers(0, 4), st.sampled_from([0, 1, 3, 8, 25, 45]), st.integers(0, 10 ** 6)),
                    min_size=1, max_size=25)

    @hyp_settings(max_examples=40, deadline=None)
    @given(docs, st.lists(st.tuples(st.integers(0, 4), st.sampled_from([0, 2, 30])), max_size=4))
    def check(run_docs, prior_docs):
        prints = [fingerprint(f"{seed:07d}-{index}", _edited(stories[story], changes, seed))
                  for index, (story, changes, seed) in enumerate(run_docs)]
        earlier = [fingerprint(f"p{index}", _edited(stories[story], changes, index))
                   for index, (story, changes) in enumerate(prior_docs)]
        prior = PriorBands([f"g{index % 2}-{f.article_id}" for index, f in enumerate(earlier)],
                           np.array([f.bands for f in earlier], dtype=np.uint64).reshape(len(earlier), 32))
        assert assign_groups(prints, prior, near) == _groups_in_one_pass(prints, prior, near)

    check()


def test_grouping_reads_only_the_signatures_of_articles_that_share_a_band_key():
    from newsbeam.neardup import assign_in_order

    texts = {"a": STORIES[0], "b": light_edits(STORIES[0]), "c": STORIES[1], "d": STORIES[2]}
    prints = [fingerprint(name, text) for name, text in sorted(texts.items())]
    asked = []

    def signature(position):
        asked.append(position)
        return prints[position].signature

    empty = PriorBands([], np.zeros((0, 32), dtype=np.uint64))
    groups = assign_in_order([f.article_id for f in prints], np.array([f.bands for f in prints], dtype=np.uint64),
                             signature, empty)
    assert groups == ["a", "a", "c", "d"] and sorted(asked) == [0, 1]
