"""What the barriers after the core cost per record (issue 16, CPU): each record is packed as few times as the
barriers need, and packing is zstd, not zlib."""
import pickle
import zlib
from datetime import datetime, timezone

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings, strategies as st

from newsbeam.packing import pack, unpack
from newsbeam.recordstore import RecordStore
from newsbeam.schemas.records import DeadLetter, WarcPointer
from newsbeam.transforms.archive import AttachPointers, dead_letter_pointer, with_dead_letter_pointer

WHEN = datetime(2026, 11, 30, tzinfo=timezone.utc)


def _dead(n: int, pointer: WarcPointer = None) -> DeadLetter:
    return DeadLetter(url=f"http://e.org/{n}", stage="extract", reason="empty_text", detail="no text",
                      failed_at=WHEN, http_status=200, attempts=1, warc=pointer)


@pytest.mark.parametrize("spooled", [True, False])
def test_rows_are_packed_once_on_their_way_through_the_pointer_join(tmp_path, monkeypatch, spooled):
    """The join used to read each pointed row back and store it again with its pointer (an unpack and a pack per
    row); the pointer now travels next to the reference and is attached where the row is read back."""
    rows = [_dead(n, WarcPointer(f"<urn:uuid:{n}>")) for n in range(5)]
    rows += [_dead(10), _dead(11, WarcPointer("<urn:uuid:11>", "warc/old.warc.gz", 5, 9))]  # nothing to join
    found = {f"<urn:uuid:{n}>": WarcPointer(f"<urn:uuid:{n}>", "warc/x.warc.gz", 100 * n, 50) for n in range(5)}
    expected = [with_dead_letter_pointer(row, found[row.warc.record_id]) if n < 5 else row
                for n, row in enumerate(rows)]
    import newsbeam.recordstore

    packed = []

    def counting(record, compress=True):
        packed.append(record)
        return pack(record, compress)

    monkeypatch.setattr(newsbeam.recordstore, "pack", counting)  # the FnApiRunner runs in this process
    store = RecordStore(str(tmp_path / "spool") if spooled else None)
    with beam.Pipeline(runner="FnApiRunner") as pipeline:
        pointers = pipeline | "Pointers" >> beam.Create(sorted(found.items()))
        attached = (pipeline | "Rows" >> beam.Create(rows)
                    | AttachPointers(pointers, dead_letter_pointer, with_dead_letter_pointer, store))
        assert_that(attached, equal_to(expected))
    # once each: on the way to the join (pointed rows) or past it (the others); the old code packed pointed rows
    # a second time, after attaching their pointer
    assert sorted(r.url for r in packed) == sorted(r.url for r in rows), [r.url for r in packed]


@settings(max_examples=40, deadline=None)
@given(record=st.recursive(st.none() | st.booleans() | st.integers() | st.text() | st.binary(),
                           lambda children: st.lists(children) | st.dictionaries(st.text(), children), max_leaves=20),
       compress=st.booleans())
def test_packing_round_trips_any_picklable_record(record, compress):
    assert unpack(pack(record, compress=compress)) == record


def test_unpacking_foreign_bytes_is_a_clear_error():
    with pytest.raises(ValueError):
        unpack(zlib.compress(pickle.dumps("x")))


def test_pages_pack_smaller_than_zlib_did():
    """zstd level 1 (Arrow's codec) against zlib level 1, which packed the spooled pages before: smaller, as well as
    ~3x cheaper in CPU (benchmarks/RESULTS.md, "Scale")."""
    html = "".join(f"<div class='c{n % 7}'><p>Paragraph {n} of the story, told at some length.</p></div>\n"
                   for n in range(2000)).encode()
    record = {"body": html, "url": "http://e.org/a"}
    assert len(pack(record)) < len(zlib.compress(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL), 1))
    assert len(pack(record, compress=False)) > len(html)  # stored: the bytes as they are


def test_the_spool_is_removed_whole_by_several_threads_and_links_are_not_followed(tmp_path, monkeypatch):
    """The run's spool (thousands of files) is unlinked by several threads at once: one at a time, each unlink
    waited for the disk in the serial tail of the run (newsbeam.scratch.remove_tree)."""
    import os
    import threading

    from newsbeam import scratch

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("kept")
    spool = tmp_path / "spool"
    (spool / "sub" / "deeper").mkdir(parents=True)
    for n in range(300):
        (spool / f"{n:04x}").write_bytes(b"x" * 10)
    (spool / "sub" / "a").write_bytes(b"a")
    (spool / "sub" / "deeper" / "b").write_bytes(b"b")
    os.symlink(outside, spool / "link-to-dir")
    os.symlink(outside / "keep.txt", spool / "sub" / "link-to-file")
    threads = set()
    unlink = os.unlink

    def recording(path, *args, **kwargs):
        threads.add(threading.get_ident())
        return unlink(path, *args, **kwargs)

    monkeypatch.setattr(scratch.os, "unlink", recording)
    scratch.remove_tree(str(spool))
    assert not spool.exists()
    assert (outside / "keep.txt").read_text() == "kept"
    assert len(threads) > 1  # the old clean-up (shutil.rmtree) unlinked everything from one thread


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("abc xyz ÉéÅ\u00a0.,\n")), max_size=300))
def test_fingerprints_with_the_permutations_drawn_once_are_those_of_a_fresh_minhash(text):
    """The permutations are drawn once per process (newsbeam.neardup._permutations): the signature and band keys
    must be exactly those of a MinHash drawing its own, as every stored band key was made."""
    import numpy as np
    from datasketch import MinHash

    from newsbeam.neardup import NearDupSettings, fingerprint, shingles

    found = fingerprint("id", text)
    fresh = MinHash(num_perm=NearDupSettings().num_perm, seed=NearDupSettings().seed)
    grams = shingles(text, NearDupSettings().shingle_words)
    if grams:
        fresh.update_batch(grams)
    assert np.array_equal(np.asarray(fresh.hashvalues, dtype=np.uint64), found.signature)
    assert fingerprint("id", text).bands == found.bands


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab xy ÉéÅ\u00a0ﬁ.,\n")), max_size=200),
       size=st.integers(min_value=1, max_value=4))
def test_shingles_are_the_distinct_word_grams_as_first_written(text, size):
    """shingles() walks the words with zip and encodes each distinct gram once: the same grams as the slicing
    formulation every stored band key was made with, each once."""
    import unicodedata

    from newsbeam.neardup import _TOKEN, shingles

    words = _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())
    expected = ({" ".join(words).encode("utf-8")} if words else set()) if len(words) < size else \
        {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}
    found = shingles(text, size)
    assert len(found) == len(set(found)) and set(found) == expected


def test_fingerprints_hash_the_grams_as_datasketch_does():
    """The grams' SHA-1 hashes are taken in one pass (neardup._sha1_32) and fed to a MinHash whose hash function is
    the identity: signature and band keys must be those of datasketch's own `sha1_hash32` path, on real text."""
    import numpy as np
    from datasketch import MinHash

    from newsbeam.neardup import NearDupSettings, fingerprint, shingles

    text = " ".join(f"word{i % 97} Übermut {i % 13} ﬁnal, Ελλάδα" for i in range(400))
    found = fingerprint("id", text)
    reference = MinHash(num_perm=NearDupSettings().num_perm, seed=NearDupSettings().seed)
    reference.update_batch(shingles(text, NearDupSettings().shingle_words))
    assert np.array_equal(np.asarray(reference.hashvalues, dtype=np.uint64), found.signature)
    assert found.bands == fingerprint("id", text).bands
