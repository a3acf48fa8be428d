"""Imports every module that declares tables on `pipeline.state.Base`, so `create_all` sees them all.

A feature that adds tables adds one import line here.
"""
import pipeline.llm.usage
import pipeline.registry.store  # noqa: F401
import pipeline.ledger.tables  # noqa: F401
