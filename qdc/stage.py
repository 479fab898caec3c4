"""Moved to `qdc.pipeline.stage`; this path re-exports it until every user has moved."""

from qdc.pipeline.stage import StageContext, StageResult

__all__ = ["StageContext", "StageResult"]
