"""The bot's HTTP API for people and programs (besides the webhook): intents and their status."""
