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
