"""The factory stages over HTTP: JSON contracts and the apps that serve them on their seed ports."""
