"""The line inside a GitHub Actions run: what a runner gives, fed to the webhook's handlers in one process."""
