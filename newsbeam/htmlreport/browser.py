"""Headless Chromium settings shared by the report's browser test and benchmarks (Debian's `chromium` package)."""
from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
# No background traffic to Google's services, no QUIC, no first-run UI: on an offline machine Chromium otherwise
# retries those connections at every start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
