"""The embedded GitHub-compatible forge: REST v3 subset, git smart HTTP and webhooks."""
