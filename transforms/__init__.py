"""Beam composites, each a thin wrapper over pure functions in `newsbeam`."""
