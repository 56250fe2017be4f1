import pytest

from newsbeam.language import LanguageDetector, LanguageSettings, iso639_1

SAMPLES = {
    "en": "The trial of three women who returned from the al-Hol camp opened in Brussels on Tuesday.",
    "fr": "Le procès de trois femmes revenues du camp d'al-Hol s'est ouvert mardi à Bruxelles.",
    "de": "Der Prozess gegen drei Rückkehrerinnen aus dem Lager al-Hol hat am Dienstag begonnen.",
    "ar": "بدأت محاكمة ثلاث نساء عدن من مخيم الهول في بروكسل يوم الثلاثاء الماضي",
    "tr": "El-Hol kampından dönen üç kadının davası salı günü Brüksel'de başladı ve tanıklar dinlendi.",
    "ru": "В Брюсселе во вторник начался суд над тремя женщинами, вернувшимися из лагеря аль-Холь.",
}


@pytest.fixture(scope="module")
def detector():
    return LanguageDetector()


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_detects_the_languages_of_our_sources(detector, language):
    code, score = detector.detect(SAMPLES[language])
    assert code == language and score > 0.9


@pytest.mark.parametrize("text", ["", "ISIS", "12 345 — !!", "Raqqa Raqqa"])
def test_too_little_text_is_undetermined(detector, text):
    assert detector.detect(text) == ("und", 0.0)


def test_detection_is_deterministic_across_instances():
    mixed = SAMPLES["en"] + " " + SAMPLES["fr"]
    results = {LanguageDetector().detect(mixed) for _ in range(3)}
    assert len(results) == 1


def test_only_a_bounded_prefix_is_read():
    detector = LanguageDetector(LanguageSettings(max_chars=200))
    assert detector.detect(SAMPLES["fr"] * 3 + SAMPLES["de"] * 200)[0] == "fr"


@pytest.mark.parametrize("code, expected", [("zh-cn", "zh"), ("zh-tw", "zh"), ("en", "en")])
def test_iso639_1(code, expected):
    assert iso639_1(code) == expected
