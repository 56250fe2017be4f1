"""Near-duplicate groups: syndicated copies of one wire story share a `duplicate_group`, within a run and across
runs, with MinHash signatures computed as datasketch computes them (its default `affine32` scheme and SHA-1 hash).

Each article gets a 128-permutation MinHash of its word 3-grams, cut into 32 bands of 4 rows. Two articles are
candidates when at least two bands agree: for a Jaccard similarity of 0.2 that happens with probability 0.001,
for 0.7 with 0.999. Inside a run the full signatures are at hand, so candidates must also have an estimated
Jaccard of at least 0.5; across runs only the band keys are kept (256 bytes an article, for a bounded window).
The group id is the `article_id` of the group's first member; an article with no near duplicate is its own group.
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from newsbeam.state import SegmentedTable, read_run_files, runs_in, uncommitted

_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class NearDupSettings:
    num_perm: int = 128
    bands: int = 32
    shingle_words: int = 3
    min_band_hits: int = 2
    min_jaccard: float = 0.5
    seed: int = 1  # fixed: signatures must be comparable across runs and machines

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands


@dataclass(frozen=True)
class Fingerprint:
    article_id: str
    bands: Tuple[int, ...]  # one 64-bit key per band
    signature: Optional[np.ndarray] = None  # the full MinHash, kept within a run only


def shingles(text: str, size: int) -> List[bytes]:
    """The distinct word `size`-grams of the text, in no particular order (a MinHash takes the minimum)."""
    words = _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())
    if len(words) < size:
        return [" ".join(words).encode("utf-8")] if words else []
    # zip walks the words without slicing a list per position; each distinct gram is encoded once
    return [gram.encode("utf-8") for gram in {" ".join(gram) for gram in zip(*(words[k:] for k in range(size)))}]


def _sha1_32(grams: List[bytes]) -> np.ndarray:
    """datasketch's default 32-bit hash of each gram (`sha1_hash32`: the first 4 bytes of its SHA-1, little
    endian), taken in one pass: its per-gram call and `struct.unpack` were a third of a fingerprint's time."""
    return np.frombuffer(b"".join([hashlib.sha1(gram).digest()[:4] for gram in grams]), dtype="<u4").astype(np.uint32)


# The MinHash is datasketch's (2.0, scheme `affine32`, the scheme every stored band key was made with), computed
# here with numpy: importing datasketch imports its LSH and with it scipy.integrate, ~0.8 s of CPU in every process
# that fingerprints. tests/test_barrier_cost.py checks signatures against datasketch's own MinHash.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """The affine permutations h -> a * h + b (mod 2^32), `a` odd, drawn from the seed as datasketch draws them;
    the same each time, so drawn once per process."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _minhash(hashes: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """The MinHash signature (uint32, one value per permutation) of the grams' 32-bit hashes: each hash pre-mixed
    by MurmurHash3's finalizer, then the minimum over the grams of each permutation (uint32 arithmetic wraps, which
    is the modulo). No grams: every value is the maximum, as in an empty datasketch MinHash."""
    if not len(hashes):
        return np.full(num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
    shift1, multiplier1, shift2, multiplier2, shift3 = _FMIX32
    mixed = hashes ^ (hashes >> shift1)
    mixed = mixed * multiplier1
    mixed = mixed ^ (mixed >> shift2)
    mixed = mixed * multiplier2
    mixed = (mixed ^ (mixed >> shift3)).reshape(-1, 1)
    a, b = _permutations(num_perm, seed)
    return (mixed * a + b).min(axis=0)


def fingerprint(article_id: str, text: str, settings: NearDupSettings = NearDupSettings()) -> Fingerprint:
    grams = shingles(text, settings.shingle_words)
    values = _minhash(_sha1_32(grams), settings.num_perm, settings.seed).astype(np.uint64)
    rows = settings.rows
    bands = tuple(
        int.from_bytes(hashlib.blake2b(band.to_bytes(2, "little") + values[band * rows:(band + 1) * rows].tobytes(),
                                       digest_size=8).digest(), "little")
        for band in range(settings.bands)
    )
    return Fingerprint(article_id, bands, values)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a == b)) / len(a)


class PriorBands:
    """Band keys of articles from earlier runs, searchable by key."""

    def __init__(self, groups: Sequence[str], bands: np.ndarray):
        # bands: (n_articles, n_bands) uint64; flattened and sorted for binary search
        self._groups = list(groups)
        n, width = bands.shape if bands.size else (0, 0)
        flat = bands.reshape(-1)
        owners = np.repeat(np.arange(n, dtype=np.int64), width)
        order = np.argsort(flat, kind="stable")
        self._keys = flat[order]
        self._owners = owners[order]

    def __len__(self) -> int:
        return len(self._groups)

    def hits(self, bands: Sequence[int]) -> Dict[str, int]:
        """Group id -> number of bands shared with earlier articles of that group (best article)."""
        if not len(self._keys):
            return {}
        wanted = np.asarray(bands, dtype=np.uint64)
        left = np.searchsorted(self._keys, wanted, side="left")
        right = np.searchsorted(self._keys, wanted, side="right")
        owners = np.concatenate([self._owners[a:b] for a, b in zip(left, right)]) if len(wanted) else []
        if not len(owners):
            return {}
        per_article = np.bincount(owners)
        best: Dict[str, int] = {}
        for article in np.flatnonzero(per_article):
            group = self._groups[article]
            best[group] = max(best.get(group, 0), int(per_article[article]))
        return best


def assign_groups(run: Sequence[Fingerprint], prior: PriorBands,
                  settings: NearDupSettings = NearDupSettings()) -> Dict[str, str]:
    """article_id -> duplicate_group for this run's articles. Deterministic: articles are taken in id order and
    each joins the candidate group it shares the most bands with (ties: the smallest group id)."""
    ordered = sorted(run, key=lambda f: f.article_id)
    ids = [f.article_id for f in ordered]
    bands = np.array([f.bands for f in ordered], dtype=np.uint64).reshape(len(ordered), settings.bands)
    return dict(zip(ids, assign_in_order(ids, bands, lambda position: ordered[position].signature, prior,
                                         settings)))


def assign_in_order(ids: Sequence[str], bands: np.ndarray, signature: Callable[[int], np.ndarray],
                    prior: PriorBands, settings: NearDupSettings = NearDupSettings()) -> List[str]:
    """The groups of `assign_groups` from what the grouping needs: `ids` in ascending order, their band keys
    (n x bands), and `signature(position)`, asked only for articles that share a band key with another one.

    An article's in-run candidates all share a band key with it, so the articles linked by shared keys (connected
    components) are grouped one component at a time, in id order within each: only one component's signatures and
    pair counts are in memory at once, and an article that shares no key needs no signature at all."""
    groups = list(ids)
    linked = _components(bands)
    for members in linked:
        _assign_component(members, ids, bands, signature, prior, settings, groups)
    if len(prior):  # the others can only join a group of earlier runs
        alone = np.ones(len(ids), dtype=bool)
        for members in linked:
            alone[members] = False
        for position in np.flatnonzero(alone).tolist():
            hits = {g: n for g, n in prior.hits(bands[position].tolist()).items() if n >= settings.min_band_hits}
            if hits:
                groups[position] = min(hits, key=lambda g: (-hits[g], g))
    return groups


def _components(bands: np.ndarray) -> List[List[int]]:
    """The positions linked by shared band keys, components of two or more, each in ascending order."""
    count = len(bands)
    if count < 2:
        return []
    # imported here: only the grouping step needs scipy (~0.4 s of CPU), not every process that fingerprints
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    flat, positions = _sorted_keys(bands)
    same = np.flatnonzero(flat[1:] == flat[:-1])  # each position linked to the next one with the same key
    graph = coo_matrix((np.ones(len(same), dtype=np.int8), (positions[same], positions[same + 1])),
                       shape=(count, count))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    linked = np.flatnonzero(sizes[labels] > 1)  # ascending: members come out in id order
    members: Dict[int, List[int]] = {}
    for position, label in zip(linked.tolist(), labels[linked].tolist()):
        members.setdefault(label, []).append(position)
    return sorted(members.values())


def _assign_component(members: List[int], ids: Sequence[str], bands: np.ndarray,
                      signature: Callable[[int], np.ndarray], prior: PriorBands, settings: NearDupSettings,
                      groups: List[str]) -> None:
    signatures = [signature(position) for position in members]
    shared_bands = _shared_bands(bands[members])
    for index, position in enumerate(members):
        candidates = {g: n for g, n in prior.hits(bands[position].tolist()).items() if n >= settings.min_band_hits}
        for earlier, n in shared_bands.get(index, {}).items():
            if (n >= settings.min_band_hits
                    and estimated_jaccard(signatures[index], signatures[earlier]) >= settings.min_jaccard):
                group = groups[members[earlier]]
                candidates[group] = max(candidates.get(group, 0), n)
        groups[position] = min(candidates, key=lambda g: (-candidates[g], g)) if candidates else ids[position]


def _shared_bands(keys: np.ndarray) -> Dict[int, Dict[int, int]]:
    """{position: {earlier position: bands they share}} for the pairs of `keys` (n x bands) that share at least
    one band.

    One sort of all band keys finds the collisions: band keys take 8 bytes each in numpy, where a dict from band
    key to positions took ~150 bytes a key."""
    if not len(keys):
        return {}
    flat, positions = _sorted_keys(keys)
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(flat)]))
    shared: Dict[int, Dict[int, int]] = {}
    for start, end in zip(starts[ends - starts > 1].tolist(), ends[ends - starts > 1].tolist()):
        members = positions[start:end].tolist()
        for index, later in enumerate(members):
            counts = shared.setdefault(later, {})
            for earlier in members[:index]:
                if earlier != later:
                    counts[earlier] = counts.get(earlier, 0) + 1
    return shared


def _sorted_keys(keys: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Every band key of `keys` (n x bands) in ascending order, with the position of the row it came from; stable:
    the positions stay ascending within a key."""
    flat = keys.ravel()
    positions = np.repeat(np.arange(len(keys)), keys.shape[1])
    order = np.argsort(flat, kind="stable")
    return flat[order], positions[order]


# --- state: band keys of earlier runs' articles, for a bounded window -----------------------------------------

NEAR_DUP_STATE_VERSION = 1
NEAR_DUP_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("duplicate_group", pa.string(), nullable=False),
        pa.field("bands", pa.list_(pa.uint64(), NearDupSettings().bands), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
    ],
    metadata={"newsbeam.state": "near_duplicates", "newsbeam.state_version": str(NEAR_DUP_STATE_VERSION)},
)


def near_dup_table(output: str) -> SegmentedTable:
    return SegmentedTable(output, "near_duplicates", NEAR_DUP_SCHEMA)


def near_dup_rows(run_id: str, entries: Sequence[Tuple[Fingerprint, str, datetime]]) -> pa.Table:
    """State rows from (fingerprint, duplicate_group, fetched_at) of one run's articles."""
    width = NEAR_DUP_SCHEMA.field("bands").type.list_size
    bands = np.array([f.bands for f, _, _ in entries], dtype=np.uint64).reshape(len(entries), width)
    return band_rows(run_id, [f.article_id for f, _, _ in entries], [g for _, g, _ in entries], bands,
                     [t for _, _, t in entries])


def band_rows(run_id: str, ids: Sequence[str], groups: Sequence[str], bands: np.ndarray,
              fetched_at: Sequence[datetime]) -> pa.Table:
    """State rows from one run's article ids, their groups, band keys (n x bands) and fetch times."""
    width = NEAR_DUP_SCHEMA.field("bands").type.list_size
    return pa.table({
        "article_id": pa.array(ids, pa.string()),
        "duplicate_group": pa.array(groups, pa.string()),
        "bands": pa.FixedSizeListArray.from_arrays(pa.array(bands.reshape(-1), pa.uint64()), width),
        "run_id": pa.array([run_id] * len(ids), pa.string()),
        "at": pa.array(fetched_at, pa.timestamp("us", tz="UTC")),
    }, schema=NEAR_DUP_SCHEMA)


def _rows_for_run(output: str, run_id: str, settings: NearDupSettings) -> Optional[pa.Table]:
    """A killed run's articles have no state rows: fingerprint them again from their committed text."""
    articles = read_run_files(output, "articles", 2, run_id, ["article_id", "duplicate_group", "text", "fetched_at"])
    if articles is None:
        return None
    entries = [(fingerprint(r["article_id"], r["text"], settings), r["duplicate_group"] or r["article_id"],
                r["fetched_at"]) for r in articles.to_pylist()]
    return near_dup_rows(run_id, entries)


def load_prior(output: str, current_run: str, since: datetime,
               settings: NearDupSettings = NearDupSettings()) -> PriorBands:
    """Band keys of other runs' articles fetched since `since`."""
    table = near_dup_table(output)
    rows, covered = table.snapshot(exclude_run=current_run)
    parts = [rows]
    for run_id in uncommitted(runs_in(output), covered, current_run):
        rows = _rows_for_run(output, run_id, settings)
        if rows is not None:
            parts.append(rows)
    rows = pa.concat_tables(parts)
    rows = rows.filter(pc.greater_equal(rows["at"], pa.scalar(since, pa.timestamp("us", tz="UTC"))))
    bands = rows["bands"].combine_chunks().flatten().to_numpy().reshape(-1, settings.bands) if rows.num_rows else \
        np.zeros((0, settings.bands), dtype=np.uint64)
    return PriorBands(rows["duplicate_group"].to_pylist(), bands)
