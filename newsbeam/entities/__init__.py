"""Entity tagging with canonical ids across languages and transliterations (pure Python, no Beam).

`EntityTagger` runs spaCy NER where a model exists (English, French) and links names to canonical ids in every
language through a gazetteer (GeoNames places, pycountry country names, a curated file of organisations and groups).
See ner.py for the label mapping, normalise.py for the matching key and linking.py for the precision rules.
"""
from newsbeam.entities.normalise import normalise_key
from newsbeam.entities.tagger import EntityMention, EntitySettings, EntityTagger, entity_ids

__all__ = ["EntityMention", "EntitySettings", "EntityTagger", "entity_ids", "normalise_key"]
