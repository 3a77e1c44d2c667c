"""Prefect flows: orchestration only; the work is done by plain functions in claimwright."""
