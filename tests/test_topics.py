import pytest

from newsbeam.topics import TopicMatcher


@pytest.fixture(scope="module")
def matcher():
    return TopicMatcher()


def test_the_default_watchlist_has_the_domain_topics(matcher):
    assert matcher.topics == ["attacks", "defectors", "detention", "foreign_fighters", "recruitment", "repatriation",
                              "returnees"]


@pytest.mark.parametrize("text, expected", [
    ("Two returnees from the al-Hol camp were detained on arrival in Brussels.", ["detention", "returnees"]),
    ("Europe's foreign fighters: a recruiter in Istanbul explains the network.", ["foreign_fighters", "recruitment"]),
    ("Deux revenantes rapatriées du camp de Roj ont été placées en garde à vue.",
     ["detention", "repatriation", "returnees"]),
    ("Les combattants étrangers ont perdu leur dernier bastion.", ["foreign_fighters"]),
    ("Drei Rückkehrerinnen wurden nach ihrer Rückholung festgenommen.", ["detention", "repatriation", "returnees"]),
    ("Ein Aussteiger berichtet über die Anwerbung junger Männer.", ["defectors", "recruitment"]),
    ("قال منشق عن التنظيم إن المقاتلين الأجانب محتجزون في سجن الحسكة", ["defectors", "detention", "foreign_fighters"]),
    ("أسفر تفجير سيارة مفخخة عن مقتل ثلاثة أشخاص", ["attacks"]),
    ("Suriye'den dönen yabancı savaşçılar gözaltına alındı.", ["detention", "foreign_fighters", "returnees"]),
    ("Gaziantep'te bombalı saldırı düzenlendi.", ["attacks"]),
])
def test_terms_match_in_every_language(matcher, text, expected):
    assert matcher.match(text) == expected


@pytest.mark.parametrize("text", [
    "The weather in Nice was lovely and the market reopened.",
    "He was imprisonment-free",  # no word starts with a watched term
    "Returned goods must be unused.",
    "",
])
def test_unrelated_text_matches_nothing(matcher, text):
    assert matcher.match(text) == []


def test_terms_start_on_a_word_boundary(matcher):
    assert matcher.match("They were imprisoned") == []  # 'prison*' must start the word
    assert matcher.match("prisoners") == ["detention"]


def test_whole_words_unless_marked_as_prefix(matcher):
    assert matcher.match("An IED exploded.") == ["attacks"]
    assert matcher.match("IEDX") == []  # 'IED' has no '*'


def test_an_arabic_clitic_may_precede_a_term(matcher):
    assert matcher.match("والمقاتلين الأجانب") == ["foreign_fighters"]


def test_a_term_does_not_run_across_punctuation(matcher):
    assert matcher.match("They met a foreign. Fighter-pilots flew over.") == []


def test_spelling_variants_are_tolerated(matcher):
    # hyphen, case and accent variants all key the same way
    assert matcher.match("SYRIEN-RÜCKKEHRER") == ["returnees"]
    assert matcher.match("Les djihadistes etrangers") == ["foreign_fighters"]


def test_a_custom_file(tmp_path):
    path = tmp_path / "topics.yaml"
    path.write_text("version: 1\ntopics:\n  kidnapping:\n    label: Kidnapping\n    terms:\n"
                    "      en: [kidnap*, abduct*]\n      fr: [enlèvement*]\n", encoding="utf-8")
    matcher = TopicMatcher(str(path))
    assert matcher.topics == ["kidnapping"]
    assert matcher.match("Un enlèvement à Idleb") == ["kidnapping"]
    assert matcher.match("They were abducted") == ["kidnapping"]


@pytest.mark.parametrize("content, message", [
    ("- just\n- a list\n", "expected a mapping"),
    ("version: 1\n", "'topics' must be a non-empty mapping"),
    ("topics:\n  Bad-Id:\n    terms: {en: [x]}\n", "ids are lower-case"),
    ("topics:\n  ok:\n    - not a mapping\n", "expected a mapping with 'terms'"),
    ("topics:\n  ok:\n    label: OK\n", "'terms' must map language codes"),
    ("topics:\n  ok:\n    terms: {en: recruit}\n", "must be a non-empty list"),
    ("topics:\n  ok:\n    terms: {english: [recruit]}\n", "is not a language code"),
    ("topics:\n  ok:\n    terms: {en: ['']}\n", "non-empty string"),
    ("topics:\n  ok:\n    terms: {en: [12]}\n", "non-empty string"),
    ("topics:\n  ok:\n    terms: {en: ['re*cruit']}\n", "'*' may only end a word"),
    ("topics:\n  ok:\n    terms: {en: ['*']}\n", "needs letters"),
    ("topics:\n  ok:\n    terms: {en: [a]}\n    colour: red\n", "unknown field"),
    ("topics:\n  ok:\n    terms: {en: [a]}\n  ok:\n    terms: {en: [b]}\n", "duplicate key 'ok'"),
    ("topics: [unclosed\n", "not valid YAML"),
])
def test_a_malformed_file_raises_a_clear_value_error(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="bad.yaml") as raised:
        TopicMatcher(str(path))
    assert message in str(raised.value)
