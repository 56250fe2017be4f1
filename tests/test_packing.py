from datetime import datetime, timezone

from newsbeam.packing import pack, unpack
from newsbeam.schemas.records import DeadLetter

TEXT = "Returnees from Deir ez-Zor were questioned on arrival. " * 80


def test_round_trip_keeps_the_record():
    record = DeadLetter(url="http://e.org/1", stage="fetch", reason="http_404", detail=TEXT,
                        failed_at=datetime(2026, 11, 21, tzinfo=timezone.utc), http_status=404, attempts=1)
    assert unpack(pack(record)) == record


def test_text_packs_smaller_than_its_pickle():
    import pickle

    assert len(pack({"text": TEXT})) * 4 < len(pickle.dumps({"text": TEXT}))
