"""Beam's S3 filesystem with one boto3 client per process (per set of client arguments), not one per call.

Beam 2.77's `S3FileSystem` builds `s3io.S3IO(options=...)` for every call (exists, open, create, rename, delete,
match ...), and `S3IO` builds `boto3_client.Client(options)`, which makes a new `boto3.session.Session()` and a new
`session.client('s3', ...)`. A new botocore session parses botocore's endpoint data and S3 model JSON (~1 MB) again,
and a new client has a new connection pool: each call pays ~170 ms of CPU plus a new TCP (and TLS) connection, and a
small S3 run makes over a hundred calls.

`install()` replaces the `boto3` name that Beam's `boto3_client` module looks up (its only use is
`boto3.session.Session().client(...)` in `Client.__init__`) with a `SharedS3Clients`, whose `session.Session()`
hands out a stand-in session whose `client(**arguments)` returns the process's boto3 client for those arguments,
built on first use. That is the least invasive hook: Beam's `Client.__init__` still reads the options itself (no
copy of its option handling here), and each `Client` keeps its own per-instance download state; only the inner
boto3 client, which is thread-safe, is shared. Clients are built under a lock (boto3 sessions are not
thread-safe), with a connection pool sized for the threads that now share them (`POOL_CONNECTIONS`).

What tells clients apart: every argument Beam passes (region, API version, SSL, verify, endpoint, access key id,
secret, session token) and the `AWS_*` environment variables (botocore reads credentials, endpoint and retry
settings from them when a client is built). The key is a digest, so the cache holds no secret in clear, and the
stand-ins' reprs name no credentials. A client is rebuilt after `MAX_AGE` seconds, so that credentials and
settings read from files (`~/.aws/credentials` rotated by another tool) are picked up as they were before;
credentials that expire (instance or container roles, SSO, assume-role) are refreshed by the client itself. A
forked child builds its own clients (a connection pool must not be shared across processes).

It is installed when newsbeam's transforms are imported (`transforms/common.py`), so in the driver and in each SDK
worker (which imports them to unpickle the DoFns), and only on the Beam versions it was checked against; others run
unchanged.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import types
from typing import Any, Callable, Dict, Tuple

import apache_beam

LOG = logging.getLogger(__name__)

CHECKED_BEAM_VERSIONS = ("2.77.",)  # boto3_client.Client.__init__ and S3IO's use of it, as read in these releases
MAX_AGE = 900.0  # seconds a client is reused before it is rebuilt (re-reading credentials files and config)
# Connections a shared client keeps for reuse (botocore's default is 10): every thread of the process uses it now,
# and a pool too small closes the extra connections with a warning each. Connections are opened only when needed.
POOL_CONNECTIONS = 64


def _key(args: tuple, kwargs: Dict[str, Any], environ) -> str:
    """A digest of what decides a client: its arguments and botocore's environment variables."""
    settings = (args, sorted(kwargs.items()), sorted((k, v) for k, v in environ.items() if k.startswith("AWS_")))
    return hashlib.sha256(repr(settings).encode()).hexdigest()


class _SessionStandIn:
    """What Beam's `Client` gets from `boto3.session.Session()`: its `client(...)` is the process's shared one."""

    def __init__(self, clients: "SharedS3Clients"):
        self._clients = clients

    def client(self, *args, **kwargs):
        return self._clients.client(*args, **kwargs)


class SharedS3Clients:
    """Stands in for the `boto3` module in Beam's `boto3_client`: one boto3 client per process and key."""

    def __init__(self, boto3_module: types.ModuleType, max_age: float = MAX_AGE,
                 clock: Callable[[], float] = time.monotonic):
        self.boto3 = boto3_module
        self.max_age = max_age
        self._clock = clock
        self.session = types.SimpleNamespace(Session=lambda: _SessionStandIn(self))
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._clients: Dict[str, Tuple[Any, float]] = {}  # key -> (boto3 client, built at)

    def __getattr__(self, name: str):
        return getattr(self.boto3, name)  # anything else Beam may read of the module is the real one's

    def __repr__(self) -> str:
        return f"<SharedS3Clients: {len(self._clients)} client(s) in process {self._pid}>"

    def client(self, *args, **kwargs):
        if os.getpid() != self._pid:  # a forked child: its parent's clients (and lock state) are not its own
            self._pid, self._lock, self._clients = os.getpid(), threading.Lock(), {}
        key = _key(args, kwargs, os.environ)
        with self._lock:
            now = self._clock()
            found = self._clients.get(key)
            if found is not None and now - found[1] < self.max_age:
                return found[0]
            if "config" not in kwargs:  # Beam passes none
                from botocore.config import Config  # boto3's own dependency, there whenever boto3 is

                kwargs = {**kwargs, "config": Config(max_pool_connections=POOL_CONNECTIONS)}
            client = self.boto3.session.Session().client(*args, **kwargs)
            # expired entries go too: clients of settings no longer in use do not pile up
            self._clients = {k: v for k, v in self._clients.items() if now - v[1] < self.max_age}
            self._clients[key] = (client, now)
            LOG.debug("S3 client built for endpoint %s, region %s (%d in this process)",
                      kwargs.get("endpoint_url"), kwargs.get("region_name"), len(self._clients))
            return client


def install() -> bool:
    """Shares boto3 clients in this process (once); True if it is (now or already) in place."""
    if not apache_beam.__version__.startswith(CHECKED_BEAM_VERSIONS):
        LOG.debug("Beam %s: its S3 clients left as they are", apache_beam.__version__)
        return False
    from apache_beam.io.aws.clients.s3 import boto3_client  # imports boto3 if it can; FileSystems did already

    current = boto3_client.boto3
    if isinstance(current, SharedS3Clients):
        return True
    if current is None:  # no boto3: Beam's S3 filesystem cannot work, nothing to share
        return False
    boto3_client.boto3 = SharedS3Clients(current)
    return True

