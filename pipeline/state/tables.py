"""Imports every module that declares tables on `pipeline.state.Base`, so `create_all` sees them all.

A feature that adds tables adds one import line here.
"""

import pipeline.adoption.health
import pipeline.adoption.history
import pipeline.deploy.records
import pipeline.deploy.samples
import pipeline.governance.cache
import pipeline.governance.kept
import pipeline.ledger.tables
import pipeline.llm.usage
import pipeline.monitor.store
import pipeline.registry.store  # noqa: F401
