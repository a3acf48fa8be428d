"""The `intentops` command line: one module per feature, combined in `bot.cli.main`."""
