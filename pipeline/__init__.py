"""The assembly line: intents, governance, specs, code generation, sandbox, deploy, registry."""
