"""runn's `hostRules` (`--host-rules`): a runner's host mapped to another address, the URL's own
host still sent (Host, and the TLS server name)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import httpx

from ._book_runners import RunnerSpec


def with_host_rules(runner: RunnerSpec, rules: Mapping[str, str]) -> RunnerSpec:
    """The runner connecting where `hostRules` maps its host, sending its own Host."""
    if not rules or runner.endpoint is None:
        return runner
    url = httpx.URL(runner.endpoint)
    address = _rule_for(url.host, rules)
    if address is None:
        return runner
    host, _, port = address.rpartition(":") if _has_port(address) else (address, "", "")
    mapped = url.copy_with(host=host.strip("[]"), port=int(port) if port else url.port)
    return replace(
        runner, endpoint=str(mapped), host=url.netloc.decode("ascii"), server_name=url.host
    )


def _has_port(address: str) -> bool:
    return address.rpartition(":")[2].isdigit() and not address.endswith("]")


def _rule_for(host: str, rules: Mapping[str, str]) -> str | None:
    if host in rules:
        return rules[host]
    for pattern, address in rules.items():  # `*.example.com` matches any subdomain
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return address
    return None
