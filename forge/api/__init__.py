"""The forge's REST API v3 subset, one router per feature."""
