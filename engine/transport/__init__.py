"""The transport: connection pools, HTTP/1.1 on httptools, HTTP/2 on h2, TLS configured once.

Connections of both protocols stand behind one interface (`interfaces.py`); the pool is written
against it. Runners (a pool set per origin, shared by every virtual user) live here too.
"""

from ._errors import classify_os_error
from ._route import Proxy, Route, choose_route, parse_proxy, used_proxy, used_unix_socket
from ._runner import Runner
from ._transport import PoolScope, to_response
from ._wire import RawResponse

__all__ = [
    "PoolScope",
    "Proxy",
    "RawResponse",
    "Route",
    "Runner",
    "choose_route",
    "classify_os_error",
    "parse_proxy",
    "to_response",
    "used_proxy",
    "used_unix_socket",
]
