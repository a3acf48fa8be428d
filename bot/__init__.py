"""The GitHub-facing side of IntentOps: webhooks, jobs, handlers, HTTP API, dashboard and CLI."""
