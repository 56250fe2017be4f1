"""Peak Python memory (tracemalloc) of reading one WARC response record that is no page (a video), as `--warc`
input and `reprocess` read records (newsbeam.warc.read_records).

    python benchmarks/bench_warc_read_memory.py [--mib 32]
"""
import argparse
import os
import tempfile
import tracemalloc

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsbeam.warc import read_records


class _Random:
    """Incompressible bytes, like a video's, streamed into the record."""

    def __init__(self, size: int):
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=32)
    size = parser.parse_args().mib * 1024 * 1024
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "video.warc.gz")
        with open(path, "wb") as handle:
            writer = WARCWriter(handle, gzip=True)
            http = StatusAndHeaders("200 OK", [("Content-Type", "video/mp4")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record("http://a.example/v.mp4", "response", payload=_Random(size),
                                                          length=size, http_headers=http))
        tracemalloc.start()
        with open(path, "rb") as handle:
            found = list(read_records(handle, path, 0, os.path.getsize(path)))
        peak = tracemalloc.get_traced_memory()[1]
    print(f"{size / 2 ** 20:.0f} MiB video/mp4 response in a .warc.gz: {len(found)} record, "
          f"peak {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
