"""The charting JavaScript (Vega, Vega-Lite, vega-embed) that the report inlines, from vl-convert-python.

vl-convert builds the bundle offline from the libraries inside its wheel, but building takes about 3 s, so the
result is kept in the newsbeam cache directory (`$NEWSBEAM_CACHE_DIR`, else `~/.cache/newsbeam`; `off` disables
it), named by the vl-convert version. Like the gazetteer cache, only a file owned by this user in a directory
nobody else can write is used: its contents run in the analyst's browser.
"""
from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path
from typing import Optional

from newsbeam.entities.cache import AUTO, resolve_directory, trusted, write_private

LOG = logging.getLogger(__name__)


def _build() -> str:
    import vl_convert

    # `</script` inside the bundle would end the inline <script> element early
    return vl_convert.javascript_bundle().replace("</script", "<\\/script")


def javascript_bundle(directory: Optional[Path] = None) -> str:
    directory = directory if directory is not None else resolve_directory(AUTO)
    if directory is None:
        return _build()
    path = directory / f"vega-bundle-{metadata.version('vl-convert-python')}.js"
    try:
        if path.exists() and trusted(path):
            return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        LOG.warning("chart bundle cache %s unreadable (%s); rebuilding", path, error)
    bundle = _build()
    write_private(path, lambda out: out.write(bundle.encode("utf-8")), "chart bundle cache")
    return bundle
