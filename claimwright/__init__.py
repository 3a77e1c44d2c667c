"""Claimwright: denial management automation for healthcare revenue-cycle teams."""

__version__ = "0.1.0"
