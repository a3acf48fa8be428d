"""The flows, one module per feature; each has `routes: Routes` (see bot.routing)."""

FLOW_MODULES: tuple[str, ...] = (
    "bot.handlers.intents",
    "bot.handlers.reviews",
    "bot.handlers.merges",
    "bot.handlers.commands",
    "bot.handlers.issues",
    "bot.handlers.changes",
    "bot.handlers.stages",
    "bot.handlers.monitor",
    "bot.handlers.installations",
)
