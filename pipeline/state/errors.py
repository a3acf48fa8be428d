"""Errors of the state database that a user must act on (kept free of imports: the CLI loads it early)."""


class SchemaError(RuntimeError):
    """The state database cannot be used by this version of IntentOps."""
