"""A main module that imports Beam, as a Beam worker's does (`python -m tests.watchdog_parent`): prints which of the
named modules the watchdog's child has loaded."""
import sys

import apache_beam  # noqa: F401 - what a worker's main module has loaded

from newsbeam.watchdog import Watchdog
from tests.watchdog_helpers import imported

if __name__ == "__main__":
    watchdog = Watchdog(imported, timeout=120)
    try:
        print(" ".join(name for name in sys.argv[1:] if watchdog.call(name)))
    finally:
        watchdog.close()
