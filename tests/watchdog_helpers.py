"""Functions for the watchdog tests' child processes: a module of their own, light to import (no Beam)."""
import time


def nap(seconds):
    time.sleep(seconds)
    return seconds


def fail():
    raise ValueError("inside the child")


def imported(name):
    import sys

    return name in sys.modules


def mark():
    import os

    os.environ["NEWSBEAM_WATCHDOG_MARK"] = "initialised"


def environment(name):
    import os

    return os.environ.get(name)
