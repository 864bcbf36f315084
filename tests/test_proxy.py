"""Proxies: `--proxy` / RunnerConfig.proxy and HTTP_PROXY, HTTPS_PROXY, NO_PROXY. Every request
passes through a small counting proxy (tests/proxy_server.py); its counters and the built-in
target's are the ground truth."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from loadscope.engine import HttpVersion, Session, SessionConfig, UrlScenario
from loadscope.engine.target import TargetProcess
from loadscope.engine.transport import choose_route, from_httpx, parse_proxy
from loadscope.engine.transport._serialize import h1_bytes as serialize_h1

from .cli_support import loadscope
from .proxy_server import CountingProxy, ThreadedProxy

ITERATIONS = 40


def config(**overrides: object) -> SessionConfig:
    values: dict[str, object] = {"concurrency": 4, "max_iterations": ITERATIONS}
    values.update(overrides)
    return SessionConfig(**values)  # type: ignore[arg-type]


async def run(config: SessionConfig, url: str) -> Session:
    session = Session(config, UrlScenario(url))
    await asyncio.wait_for(session.run(), 30)
    return session


# -- choosing the route -------------------------------------------------------------------------
def test_the_scheme_picks_its_variable_and_all_proxy_is_the_fallback() -> None:
    env = {"HTTP_PROXY": "http://p1:3128", "https_proxy": "p2:8080", "ALL_PROXY": "http://p3"}
    http = choose_route("http", "example.com", 80, environ=env).proxy
    https = choose_route("https", "example.com", 443, environ=env).proxy
    assert http is not None and (http.host, http.port, http.source) == ("p1", 3128, "HTTP_PROXY")
    assert https is not None and (https.host, https.port) == ("p2", 8080)
    other = choose_route("https", "x", 443, environ={"ALL_PROXY": "http://p3"}).proxy
    assert other is not None and (other.host, other.port) == ("p3", 80)
    assert choose_route("http", "x", 80, environ={}).direct


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "bypassed"),
    [
        ("*", "anything.example", 80, True),
        ("example.com", "example.com", 80, True),
        ("example.com", "api.example.com", 80, True),
        (".example.com", "api.example.com", 80, True),
        ("example.com", "notexample.com", 80, False),
        ("127.0.0.1", "127.0.0.1", 8080, True),
        ("127.0.0.0/8", "127.9.9.9", 8080, True),
        ("10.0.0.0/8", "127.0.0.1", 8080, False),
        ("localhost:8080", "localhost", 8080, True),
        ("localhost:8080", "localhost", 9090, False),
        ("[::1]", "::1", 80, True),
        (" a.test , b.test ", "b.test", 80, True),
    ],
)
def test_no_proxy_matches_as_curl_and_go_read_it(
    no_proxy: str, host: str, port: int, bypassed: bool
) -> None:
    env = {"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}
    assert choose_route("http", host, port, environ=env).direct is bypassed


def test_no_proxy_exempts_hosts_from_the_explicit_proxy_too() -> None:
    env = {"no_proxy": "127.0.0.1"}
    assert choose_route("http", "127.0.0.1", 80, proxy="http://p:1", environ=env).direct
    assert not choose_route("http", "127.0.0.2", 80, proxy="http://p:1", environ=env).direct


def test_http_proxy_is_ignored_under_cgi() -> None:
    env = {"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"}
    assert choose_route("http", "x", 80, environ=env).direct


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("https://proxy:443", "only http:// proxies"),
        ("socks5://proxy:1080", "only http:// proxies"),
        ("http://proxy:99999", "not a proxy URL"),
        ("http://:3128", "names no host"),
        ("http://proxy:3128/path", "has no path"),
        ("http://proxy:+3128", r"the port '\+3128' is not a number"),
        ("proxy:٣١٢٨", "the port '٣١٢٨' is not a number"),
    ],
)
def test_bad_proxy_urls_say_why_in_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_proxy(text)
    assert "\n" not in str(caught.value)


def test_userinfo_becomes_basic_proxy_authorization_and_is_never_shown() -> None:
    proxy = parse_proxy("http://user:p%40ss@proxy:3128")
    assert proxy.authorization == "Basic dXNlcjpwQHNz"  # user:p@ss
    assert proxy.display == "http://proxy:3128"


def test_forwarded_requests_use_the_absolute_form_with_proxy_headers() -> None:
    request = from_httpx(httpx.Request("GET", "http://example.com:8080/a?b=1"))
    data = serialize_h1(request, False, b"Proxy-Authorization: Basic eA==\r\n")
    assert data.startswith(b"GET http://example.com:8080/a?b=1 HTTP/1.1\r\n")
    assert b"Host: example.com:8080\r\n" in data
    assert b"Proxy-Authorization: Basic eA==\r\n" in data
    assert serialize_h1(request).startswith(b"GET /a?b=1 HTTP/1.1\r\n")


# -- on the wire --------------------------------------------------------------------------------
async def test_every_http_request_passes_through_the_proxy(target: TargetProcess) -> None:
    served, accepted = target.requests(), target.accepted()
    async with CountingProxy() as proxy:
        session = await run(config(proxy=proxy.url), target.http_url + "/json")
    snap = session.snapshot()
    assert snap.errors_total == 0
    assert snap.requests_total == proxy.forwarded == ITERATIONS
    assert target.requests() - served == ITERATIONS
    # the pool's connections are the proxy's; the proxy opened one upstream connection for each
    assert snap.connections.opened_total == proxy.accepted == target.accepted() - accepted
    assert proxy.tunnels == 0
    assert all(line.startswith(f"GET {target.http_url}/json ") for line in proxy.request_lines)
    assert session.runners["url"].dialled() == ("127.0.0.1", proxy.port)
    assert snap.proxy == proxy.url
    assert any(f"via proxy {proxy.url} (from --proxy)" in e.message for e in snap.events)


async def test_https_goes_through_a_connect_tunnel(target: TargetProcess) -> None:
    assert target.https_url is not None
    served = target.requests()
    async with CountingProxy() as proxy:
        session = await run(config(proxy=proxy.url, insecure=True), target.https_url + "/json")
    snap = session.snapshot()
    assert snap.errors_total == 0 and snap.requests_total == ITERATIONS
    assert target.requests() - served == ITERATIONS
    assert snap.connections.opened_total == proxy.accepted == proxy.tunnels
    authority = target.https_url.removeprefix("https://")
    assert set(proxy.request_lines) == {f"CONNECT {authority} HTTP/1.1"}
    assert snap.connections.tls_ms.count == proxy.tunnels  # TLS ran end to end in the tunnel


async def test_h2c_goes_through_a_connect_tunnel(target: TargetProcess) -> None:
    served = target.requests()
    async with CountingProxy() as proxy:
        session = await run(
            config(proxy=proxy.url, http_version=HttpVersion.HTTP2), target.http_url
        )
    snap = session.snapshot()
    assert snap.errors_total == 0
    assert dict(snap.http_versions) == {"HTTP/2": ITERATIONS}
    assert target.requests() - served == ITERATIONS
    assert snap.connections.opened_total == proxy.tunnels == proxy.accepted == 1


async def test_the_environment_proxy_is_used_and_no_proxy_bypasses_it(
    target: TargetProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with CountingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        await run(config(), target.http_url)
        assert proxy.forwarded == ITERATIONS
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        served = target.requests()
        session = await run(config(), target.http_url)
        assert session.snapshot().requests_total == target.requests() - served == ITERATIONS
        assert proxy.forwarded == ITERATIONS  # not one more
        assert session.runners["url"].route.direct


async def test_proxy_credentials_are_sent_and_a_refusal_is_a_proxy_error(
    target: TargetProcess,
) -> None:
    async with CountingProxy(require_auth="Basic dTpw") as proxy:  # u:p
        with_auth = proxy.url.replace("http://", "http://u:p@")
        ok = await run(config(proxy=with_auth, max_iterations=5), target.http_url)
        assert ok.snapshot().errors_total == 0 and proxy.forwarded == 5
        assert target.https_url is not None
        refused = await run(
            config(proxy=proxy.url, max_iterations=3, concurrency=1, insecure=True),
            target.https_url,
        )
    snap = refused.snapshot()
    assert snap.requests_total == snap.errors_total == 3
    assert {e.kind for e in snap.errors} == {"proxy_error"}
    assert "407" in snap.errors[0].last_message
    assert proxy.refused == 3


# -- the command line ---------------------------------------------------------------------------
@pytest.mark.slow
def test_run_with_proxy_reports_it_and_counts_connections_to_it(target: TargetProcess) -> None:
    served = target.requests()
    with ThreadedProxy() as proxy:
        report = loadscope(
            "run", target.http_url, "-x", proxy.url, "-c", "3", "-d", "2s", "--format", "json"
        ).json()
        forwarded, accepted = proxy.forwarded, proxy.accepted
    assert report["proxy"] == proxy.url and report["unix_socket"] is None
    assert report["requests_total"] == forwarded == target.requests() - served
    assert report["connections_opened"] == accepted == 3
    assert [label for label, _ in report["kernel"]["targets"]] == [f"127.0.0.1:{proxy.port}"]


@pytest.mark.slow
def test_https_proxy_from_the_environment_and_no_proxy(target: TargetProcess) -> None:
    assert target.https_url is not None
    args = ("run", target.https_url, "-k", "-c", "2", "--iterations", "20", "--format", "json")
    with ThreadedProxy() as proxy:
        env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": ""}
        report = loadscope(*args, env=env).json()
        assert report["proxy"] == proxy.url and proxy.tunnels == report["connections_opened"]
        bypassed = loadscope(*args, env={**env, "NO_PROXY": "127.0.0.1"}).json()
        assert bypassed["proxy"] is None and proxy.tunnels == report["connections_opened"]
    assert report["requests_total"] == bypassed["requests_total"] == 20


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--proxy", "socks5://127.0.0.1:1080"), {}, "--proxy: 'socks5://127.0.0.1:1080': only"),
        ((), {"HTTP_PROXY": "ftp://p:1"}, "HTTP_PROXY: 'ftp://p:1': only http:// proxies"),
        (("--unix-socket", "/nonexistent/x.sock"), {}, "--unix-socket /nonexistent/x.sock: no"),
    ],
)
def test_bad_network_settings_are_one_line_and_exit_2(
    args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = loadscope("run", "http://127.0.0.1:9/", "-d", "1s", *args, env=env)
    assert result.code == 2
    assert message in result.error_line()
