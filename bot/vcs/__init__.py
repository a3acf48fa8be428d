"""The bot's view of a forge (GitHub or the embedded forge): a typed client and a git workspace."""
