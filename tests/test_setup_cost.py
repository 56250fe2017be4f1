"""Per-worker set-up (issue 16): models load for the languages that arrive, compiled regexes come from disk."""
import json
import subprocess
import sys
import re
import uuid
from types import SimpleNamespace

import pytest

from newsbeam import dateparser_cache
from newsbeam.entities import EntitySettings, EntityTagger, compiled_patterns
from newsbeam.entities.ner import ModelMismatch, ModelSpec

SPEC = ModelSpec("xx", "newsbeam_test_model", "test", "1.0")


def test_a_model_is_loaded_only_for_a_language_that_arrives():
    tagger = EntityTagger(EntitySettings())
    assert sorted(tagger._models) == []  # set-up loads no model
    tagger.tag_many([("Judge Helen Carter spoke in Raqqa.", "en"), ("Kämpfe in Rakka.", "de")])
    assert sorted(tagger._models) == ["en"]  # German has no model; French never arrived
    assert tagger.loaded_languages() == ("en",)
    assert tagger.model("en") is tagger.model("en")  # loaded once


def test_a_missing_model_package_is_still_refused_at_set_up():
    settings = EntitySettings(models=(ModelSpec("de", "de_core_news_nonexistent", "core_news_sm", "3.8.0"),))
    with pytest.raises(ModelMismatch, match="not installed"):
        EntityTagger(settings)


def _tokenizer(*patterns):
    compiled = [re.compile(p) for p in patterns]
    return SimpleNamespace(token_match=compiled[0].match, infix_finditer=compiled[-1].finditer)


def _fresh(text):
    # a pattern no other test compiled, so `re`'s in-memory cache cannot answer for it
    return f"(?iu)(?:{uuid.uuid4().hex})|{text}"


def test_a_stored_program_is_reused_without_compiling(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    token, infix = _fresh(r"^[a-zé]+-[a-zé]+$"), _fresh(r"(?P<dash>[-–])")
    compiled_patterns.remember(SPEC, _tokenizer(token, infix), directory)
    assert len(json.loads(compiled_patterns.cache_path(SPEC, directory).read_text())["programs"]) == 2  # one each
    re.purge()  # as in a new process

    def no_compile(*args):
        raise AssertionError("compiled again")

    monkeypatch.setattr(re._compiler, "compile", no_compile)
    with compiled_patterns.primed(SPEC, directory) as count:
        assert count == 2
        pattern = re.compile(token)
        assert pattern.match("Porte-Avions") and not pattern.match("porte avions")
        assert re.compile(infix).search("a–b").group("dash") == "–"


def test_a_damaged_program_costs_the_normal_compile(tmp_path):
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    token = _fresh(r"^[a-z]+$")
    compiled_patterns.remember(SPEC, _tokenizer(token), directory)
    path = compiled_patterns.cache_path(SPEC, directory)
    data = json.loads(path.read_text())
    data["programs"][0]["code"] = [9999, 1, 2]  # not a valid SRE program
    path.write_text(json.dumps(data))
    re.purge()
    with compiled_patterns.primed(SPEC, directory) as count:
        assert count == 0
        assert re.compile(token).match("abc")  # compiled as usual


def test_a_file_others_can_write_is_ignored(tmp_path):
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    token = _fresh(r"^x+$")
    compiled_patterns.remember(SPEC, _tokenizer(token), directory)
    directory.chmod(0o777)
    re.purge()
    with compiled_patterns.primed(SPEC, directory) as count:
        assert count == 0


# ------------------------------------------------------------------------------------------- dateparser's caches

@pytest.fixture
def empty_dateparser(monkeypatch):
    """dateparser's per-locale caches as in a new process (restored afterwards)."""
    from dateparser.languages.dictionary import Dictionary

    for name in dateparser_cache._CACHES:
        monkeypatch.setattr(Dictionary, name, {})
    return Dictionary


def _parse_free_text_dates():
    import dateparser

    return [dateparser.parse(text) for text in ("3 février 2021", "12. März 2019", "5 de mayo de 2020")]


def test_dateparsers_compiled_locales_are_stored_and_reused_without_compiling(tmp_path, empty_dateparser,
                                                                             monkeypatch):
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    expected = _parse_free_text_dates()
    learned = dateparser_cache.entry_count()
    assert learned > 0 and dateparser_cache.save(directory)
    assert not dateparser_cache.save(directory)  # nothing new: not rewritten
    for name in dateparser_cache._CACHES:  # a new process
        monkeypatch.setattr(empty_dateparser, name, {})
    assert dateparser_cache.load(directory) == learned

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled again")

    import dateparser.languages.dictionary as dictionary

    monkeypatch.setattr(dictionary.re, "compile", no_compile)
    assert _parse_free_text_dates() == expected


def test_a_dateparser_cache_others_can_write_is_ignored(tmp_path, empty_dateparser):
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    _parse_free_text_dates()
    dateparser_cache.save(directory)
    directory.chmod(0o777)
    for name in dateparser_cache._CACHES:
        setattr(empty_dateparser, name, {})
    assert dateparser_cache.load(directory) == 0


def test_the_extract_step_loads_the_dateparser_cache_and_saves_what_it_learned(tmp_path, empty_dateparser,
                                                                             monkeypatch):
    from newsbeam.extraction import ExtractionSettings
    from newsbeam.transforms.extract import _ExtractFn

    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    monkeypatch.setattr(dateparser_cache, "default_directory", lambda: directory)
    fn = _ExtractFn(ExtractionSettings(timeout=0))
    fn.setup()
    _parse_free_text_dates()  # as the bundle's pages do
    fn.finish_bundle()  # the bundle added entries: stored
    assert dateparser_cache.cache_path(directory).exists()
    for name in dateparser_cache._CACHES:
        setattr(empty_dateparser, name, {})
    fn = _ExtractFn(ExtractionSettings(timeout=0))
    fn.setup()
    assert dateparser_cache.entry_count() > 0
    fn.teardown()


# ------------------------------------------------------------------------------------------- imports of a process

def test_a_process_that_runs_the_pipeline_and_fingerprints_does_not_import_datasketch_or_scipy():
    """Near-duplicate signatures are computed with numpy: datasketch's package import pulls in its LSH and
    scipy.integrate (~0.8 s of CPU in every process), and scipy.sparse is left to the grouping step. A fresh
    interpreter, as a worker starts."""
    script = (
        "import sys\n"
        "import newsbeam.pipelines.ingest, newsbeam.transforms.core\n"
        "from newsbeam.neardup import fingerprint\n"
        "assert fingerprint('a', 'one two three four five').bands\n"
        "print(sorted(m for m in ('datasketch', 'scipy') if m in sys.modules))\n"
    )
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_the_collector_pause_restores_what_it_found():
    import gc

    from newsbeam.runtime import collector_paused

    with pytest.raises(ValueError):
        with collector_paused():
            assert not gc.isenabled()
            raise ValueError("a failed load")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():  # e.g. a load under way on another thread paused it
            pass
        assert not gc.isenabled()  # not this pause's to turn back on
    finally:
        gc.enable()


def test_the_language_profiles_load_with_the_garbage_collector_paused(monkeypatch):
    import gc

    from langdetect.detector_factory import DetectorFactory

    from newsbeam.language import LanguageDetector

    seen = []
    load_profile = DetectorFactory.load_profile

    def watched(self, directory):
        seen.append(gc.isenabled())
        return load_profile(self, directory)

    monkeypatch.setattr(DetectorFactory, "load_profile", watched)
    detector = LanguageDetector()
    assert seen == [False] and gc.isenabled()
    assert detector.detect("The committee met on Tuesday to discuss the new budget for schools.")[0] == "en"


def test_the_cli_builds_its_parser_with_the_garbage_collector_paused(monkeypatch):
    """Building the parser imports Beam and the pipeline (seconds of imports in every run): the collector's passes
    over the growing heap were ~0.5 s of that."""
    import gc

    from newsbeam.pipelines import cli

    seen = []

    def parser():
        seen.append(gc.isenabled())
        raise LookupError("stop here")

    monkeypatch.setattr(cli, "_parser", parser)
    with pytest.raises(LookupError):
        cli.main(["inspect", "nowhere"])
    assert seen == [False] and gc.isenabled()
