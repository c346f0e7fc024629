"""Locate the data folders that ship with fnlens (queries, dashboards, collectors).

In a wheel they live inside the package (``fnlens/_data/<name>``, put there by
hatchling's force-include); in a checkout or an editable install they are the
top-level folders of the repository. Callers never build file paths themselves.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importlib.resources.abc is Python 3.11+; fnlens supports 3.10
    from importlib.resources.abc import Traversable

_KNOWN = ("queries", "dashboards", "collectors")


def data_dir(name: str) -> Traversable:
    """Return the shipped folder ``name`` as a Traversable (works from wheels and zips)."""
    if name not in _KNOWN:
        raise ValueError(f"unknown data folder {name!r}; expected one of {', '.join(_KNOWN)}")
    packaged = resources.files("fnlens").joinpath("_data", name)
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"fnlens data folder {name!r} not found in the installed package or the checkout"
    )
