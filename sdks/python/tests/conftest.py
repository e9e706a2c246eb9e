"""Fixtures: see support.py."""

from support import client, flags  # noqa: F401 (pytest finds fixtures by name)
