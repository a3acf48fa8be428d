"""Which registry URL a container is given: the host's loopback is not reachable from inside one."""

from __future__ import annotations

import pytest

from pipeline.deploy.docker import container_registry_url


@pytest.mark.parametrize(
    ("configured", "in_container"),
    [
        ("http://127.0.0.1:8000", "http://host.docker.internal:8000"),
        ("http://localhost:8000/", "http://host.docker.internal:8000/"),
        ("http://172.17.0.1:8000", "http://172.17.0.1:8000"),
        ("https://registry.example.org", "https://registry.example.org"),
    ],
)
def test_loopback_registry_urls_are_rewritten_to_the_host_alias(configured: str, in_container: str) -> None:
    assert container_registry_url(configured) == in_container
