import logging
import os
from dataclasses import replace

import pytest
from hypothesis import settings


from newsbeam.http import FetchSettings
from newsbeam.sample_site import SampleSite
from tests.faults import fault_routes

pytest_plugins = ["tests.s3_loopback"]  # the loopback S3 server's fixtures, shared by the object-storage tests

# Beam's import-time warning about optional GCP libraries is noise in test output.
logging.getLogger("root").addFilter(lambda record: "apitools" not in record.getMessage())

# CI must not turn red on a new random draw: there, every property test replays the same examples (derived from the
# test itself); developers' runs keep exploring. Loaded here, before the test modules build their own settings.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Short limits so that fault tests take seconds, not minutes; the production defaults are in FetchSettings.
FAST = FetchSettings(
    connect_timeout=1.0,
    read_timeout=1.0,
    deadline=2.5,
    backoff_base=0.01,
    retry_after_max=5.0,
    host_delay=0.0,
    max_attempts=3,
    allow_private_addresses=True,  # the test servers listen on 127.0.0.1
)


@pytest.fixture(scope="session", autouse=True)
def gazetteer_cache_dir(tmp_path_factory):
    """A session-wide gazetteer cache: tests never write to ~/.cache, and the CLI runs the tests start (which
    inherit the environment) load the gazetteer instead of building it."""
    from newsbeam.entities.cache import CACHE_ENV

    directory = tmp_path_factory.mktemp("gazetteer-cache")
    directory.chmod(0o700)
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(directory)
    yield directory
    if previous is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = previous


@pytest.fixture(scope="session", autouse=True)
def entity_taggers(gazetteer_cache_dir):
    """Keeps the shared taggers alive for the whole session: in-process pipelines then build them once, as a
    long-lived worker would, instead of once per test."""
    from newsbeam.entities import EntitySettings
    from newsbeam.transforms.entities import shared_tagger

    return [shared_tagger(EntitySettings()), shared_tagger(EntitySettings(use_ner=False))]


@pytest.fixture
def site():
    """The bundled sample site plus the fault routes, on 127.0.0.1."""
    with SampleSite(routes=fault_routes()) as running:
        yield running


@pytest.fixture
def fast_settings():
    return FAST


@pytest.fixture
def settings_with():
    return lambda **changes: replace(FAST, **changes)


@pytest.fixture
def restore_logging():
    """cli.main configures the root logger: give it back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
