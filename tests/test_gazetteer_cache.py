"""The gazetteer's disk cache: hits, misses, invalidation, damaged and untrusted files, the directory setting."""
import os
import pickle
from dataclasses import replace

import pytest

from newsbeam.entities import EntitySettings, EntityTagger
from newsbeam.entities import cache
from newsbeam.entities.gazetteer import BuildOptions

OPTIONS = BuildOptions(focus_countries=frozenset({"SY", "IQ"}), min_population_focus=15_000,
                       min_population=100_000, min_alternate_chars=4)


class Builds:
    """A stand-in build: counts its calls and returns a small picklable value."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"built": self.calls}


@pytest.fixture
def directory(tmp_path):
    path = tmp_path / "cache"
    path.mkdir(mode=0o700)
    return path


def cached_files(directory):
    return sorted(p.name for p in directory.iterdir())


def test_a_miss_builds_and_stores_and_a_hit_loads(directory):
    build = Builds()
    assert cache.load_or_build(OPTIONS, build, directory) == {"built": 1}
    assert cached_files(directory) == [f"gazetteer-{cache.cache_key(OPTIONS)}.pickle"]
    assert cache.load_or_build(OPTIONS, build, directory) == {"built": 1}
    assert build.calls == 1


@pytest.mark.parametrize("change", [
    {"min_population": 50_000},
    {"focus_countries": frozenset({"SY"})},
    {"min_alternate_chars": 3},
])
def test_other_options_use_another_file(directory, change):
    build = Builds()
    cache.load_or_build(OPTIONS, build, directory)
    cache.load_or_build(replace(OPTIONS, **change), build, directory)
    assert build.calls == 2
    assert len(cached_files(directory)) == 2


def test_editing_the_curated_file_invalidates_the_cache(directory, tmp_path):
    curated = tmp_path / "curated.yaml"
    curated.write_text("entities: []\n")
    options = replace(OPTIONS, curated_path=str(curated))
    before = cache.cache_key(options)
    curated.write_text("entities: []\nplaces: []\n")
    assert cache.cache_key(options) != before
    assert cache.cache_key(options) != cache.cache_key(OPTIONS)


def test_the_key_is_stable():
    assert cache.cache_key(OPTIONS) == cache.cache_key(replace(OPTIONS))


@pytest.mark.parametrize("damage", [b"", b"not a pickle", pickle.dumps({"built": 0})[:-3]])
def test_a_damaged_file_is_rebuilt_and_replaced(directory, damage):
    path = directory / f"gazetteer-{cache.cache_key(OPTIONS)}.pickle"
    path.write_bytes(damage)
    build = Builds()
    assert cache.load_or_build(OPTIONS, build, directory) == {"built": 1}
    with path.open("rb") as handle:
        assert pickle.load(handle) == {"built": 1}


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="ownership checks are POSIX")
def test_a_file_in_a_directory_others_can_write_is_not_loaded(directory):
    path = directory / f"gazetteer-{cache.cache_key(OPTIONS)}.pickle"
    path.write_bytes(pickle.dumps({"planted": True}))
    directory.chmod(0o777)
    try:
        assert cache.load_or_build(OPTIONS, Builds(), directory) == {"built": 1}
    finally:
        directory.chmod(0o700)


def test_an_unwritable_cache_still_returns_the_build(tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    assert cache.load_or_build(OPTIONS, Builds(), not_a_directory) == {"built": 1}


def test_no_directory_means_no_cache(tmp_path):
    build = Builds()
    cache.load_or_build(OPTIONS, build, None)
    cache.load_or_build(OPTIONS, build, None)
    assert build.calls == 2


@pytest.mark.parametrize("env, xdg, expected", [
    ("/some/dir", None, "/some/dir"),
    ("off", None, None),
    ("", None, None),
    (None, "/xdg", "/xdg/newsbeam"),
])
def test_the_directory_setting(monkeypatch, env, xdg, expected):
    for name, value in ((cache.CACHE_ENV, env), ("XDG_CACHE_HOME", xdg)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    resolved = cache.resolve_directory(cache.AUTO)
    assert (str(resolved) if resolved else None) == expected
    assert cache.resolve_directory(None) is None
    assert cache.resolve_directory("/explicit") == cache.Path("/explicit")


def test_a_tagger_from_the_cache_tags_like_a_built_one(tmp_path):
    settings = EntitySettings(use_ner=False, gazetteer_cache=str(tmp_path / "cache"))
    built = EntityTagger(settings)
    assert len(cached_files(tmp_path / "cache")) == 1
    loaded = EntityTagger(settings)
    text = "Returnees from Deir ez-Zor and Al-Raqqa were questioned in Vilvoorde about the SDF and Daesh."
    assert loaded.tag(text, "en") == built.tag(text, "en")
    assert len(loaded.gazetteer) == len(built.gazetteer)
    assert [m.entity_id for m in loaded.tag(text, "en")] == [
        "geonames:170794", "geonames:172955", "geonames:2784604", "newsbeam:sdf", "wikidata:Q2429253"]


class CollectorProbe:
    """Unpickles into the state of the garbage collector at that moment."""

    def __reduce__(self):
        return _collector_enabled, ()


def _collector_enabled():
    import gc

    return {"collector enabled": gc.isenabled()}


def test_a_hit_loads_with_the_garbage_collector_paused(directory):
    """Unpickling the gazetteer creates a few hundred thousand objects, none garbage: the collector's passes over
    them were most of the load's CPU (~0.7 -> ~0.2 s). Paused for the load, on again afterwards."""
    import gc

    assert cache.load_or_build(OPTIONS, CollectorProbe, directory) is not None  # a miss: built and stored
    assert cache.load_or_build(OPTIONS, Builds(), directory) == {"collector enabled": False}
    assert gc.isenabled()
