"""Denial rules as data: ``rules.yaml`` (decisions, priority settings), ``deadlines.yaml``
(per-payer windows), the engine that applies them, and the ``claimwright rules`` commands."""

from .source import RulesError

__all__ = ["RulesError"]
