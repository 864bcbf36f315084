"""The transport: connection pools, HTTP/1.1 on httptools, HTTP/2 on h2, TLS configured once.

Connections of both protocols stand behind one interface (`interfaces.py`); the pool is written
against it. Runners (a pool set per origin, shared by every virtual user) live here too.
"""

from ._errors import classify_os_error, without_frames
from ._handoff import Handoff, handoff_for, take_turn
from ._httpx_models import from_httpx, origin_of, to_httpx, to_response, url_of
from ._httpx_transport import AsyncEngineTransport
from ._route import Proxy, Route, choose_route, parse_proxy, used_proxy, used_unix_socket
from ._runner import Runner
from ._scope import PoolScope
from ._wire import Origin, RawRequest, RawResponse

__all__ = [
    "AsyncEngineTransport",
    "Handoff",
    "Origin",
    "PoolScope",
    "Proxy",
    "RawRequest",
    "RawResponse",
    "Route",
    "Runner",
    "choose_route",
    "classify_os_error",
    "from_httpx",
    "handoff_for",
    "origin_of",
    "parse_proxy",
    "take_turn",
    "to_httpx",
    "to_response",
    "url_of",
    "used_proxy",
    "used_unix_socket",
    "without_frames",
]
