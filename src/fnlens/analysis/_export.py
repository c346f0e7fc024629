"""Parquet export of the three tables: kept for imports; the layout lives in ``parquet``."""

from __future__ import annotations

from fnlens.analysis._parquet import export_parquet

__all__ = ["export_parquet"]
