"""runn's own built-in functions: urlencode, bool, compare, diff, pick, omit, merge, intersect,
basename, time, file, url, hash.*, jwt.* and faker.*; input, secret and select are refused at load.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import hashlib
import json
import posixpath
import random
import re
import string
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..durations import DurationError, parse_duration
from ._ast import Call
from ._errors import EvalError, ExpressionError
from ._functions import BASE_DIR, CALL_HOOKS, FUNCTIONS, register
from ._times import parse_time
from ._values import Compiled, Constant, equal, plain, type_name

TERMINAL_FUNCTIONS = ("input", "secret", "select")
TERMINAL_HINT = "give the value as a var instead: --var NAME:value"


@register("urlencode", 1, 1)
def _urlencode(value: Any) -> str:
    if not isinstance(value, str):
        raise EvalError(f"invalid argument for urlencode (type {type_name(value)})")
    return urllib.parse.quote_plus(value)


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_PORT = re.compile(r"(?:\[[^\]]*\]|[^:\[\]]*)(?::[0-9]*)?")


@register("url", 1, 1)
def _url(raw: Any) -> dict[str, Any]:
    """runn's url(): Go's url.Parse, as a map of url.URL's fields (Scheme, Host with its port,
    Path unescaped, RawQuery ...); `User` is nil or {Username, Password}."""
    if not isinstance(raw, str):
        raise EvalError(f"invalid argument for url (type {type_name(raw)})")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise EvalError(f"url: parse {raw!r}: invalid control character in URL")
    rest, hashed, raw_fragment = raw.partition("#")
    scheme = ""
    if matched := _SCHEME.match(rest):
        scheme, rest = matched.group(1).lower(), rest[matched.end() :]
    elif rest.startswith(":"):
        raise EvalError(f"url: parse {raw!r}: missing protocol scheme")
    rest, asked, query = rest.partition("?")
    fields: dict[str, Any] = {
        "Scheme": scheme, "Opaque": "", "User": None, "Host": "", "Path": "", "RawPath": "",
        "OmitHost": False, "ForceQuery": bool(asked) and not query, "RawQuery": query,
        "Fragment": _unescape(raw, raw_fragment), "RawFragment": "",
    }  # fmt: skip
    if hashed and urllib.parse.quote(fields["Fragment"], safe=_FRAGMENT_SAFE) != raw_fragment:
        fields["RawFragment"] = raw_fragment
    if scheme and not rest.startswith("/"):
        fields["Opaque"] = rest
        return fields
    if rest.startswith("//"):
        authority, slash, rest = rest[2:].partition("/")
        rest = slash + rest
        userinfo, at, host = authority.rpartition("@")
        host = host if at else authority
        if not _PORT.fullmatch(host):
            raise EvalError(f"url: parse {raw!r}: invalid port in host {host!r}")
        fields["Host"] = _unescape(raw, host)
        if at:
            user, colon, password = userinfo.partition(":")
            fields["User"] = {
                "Username": _unescape(raw, user),
                "Password": _unescape(raw, password) if colon else "",
            }
    fields["Path"] = _unescape(raw, rest)
    if urllib.parse.quote(fields["Path"], safe=_PATH_SAFE) != rest:
        fields["RawPath"] = rest
    return fields


_PATH_SAFE = "/:@!$&'()*+,;="
_FRAGMENT_SAFE = _PATH_SAFE + "?"


def _unescape(raw: str, text: str) -> str:
    """Go's unescape: `%` must start a valid escape."""
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        bad = text[text.index("%") : text.index("%") + 3]
        raise EvalError(f"url: parse {raw!r}: invalid URL escape {bad!r}")
    return urllib.parse.unquote(text, errors="strict") if "%" in text else text


@register("compare", 2, 64)
def _compare(a: Any, b: Any, *ignored: Any) -> bool:
    """runn's compare: ignore keys given one by one or as a list; a key anywhere (`id`), or a
    path from the top (`.user.id`)."""
    keys: list[Any] = []
    for item in ignored:
        keys += list(item) if isinstance(item, list | tuple) else [item]
    for key in keys:
        if not isinstance(key, str):
            raise EvalError(f"compare: an ignored key is a string, not {type_name(key)}")
    anywhere = {key for key in keys if not key.startswith(".")}
    paths = [tuple(part for part in key.split(".") if part) for key in keys if key.startswith(".")]
    if not keys:
        return equal(a, b)
    return equal(_without(a, anywhere, paths), _without(b, anywhere, paths))


def _without(value: Any, anywhere: set[str], paths: list[tuple[str, ...]]) -> Any:
    if isinstance(value, Mapping):
        kept = {}
        for key, item in value.items():
            if key in anywhere or (key,) in paths:
                continue
            below = [path[1:] for path in paths if len(path) > 1 and path[0] == key]
            kept[key] = _without(item, anywhere, below)
        return kept
    if isinstance(value, list | tuple):
        return [_without(item, anywhere, []) for item in value]
    return value


@register("bool", 1, 1)
def _bool(value: Any) -> bool:
    """spf13/cast's ToBool: what cannot be read as a bool is false."""
    if isinstance(value, bool):
        return value
    if type(value) in (int, float):
        return bool(value != 0)
    if isinstance(value, str):
        return value.strip() in ("1", "t", "T", "TRUE", "true", "True")
    return False


@register("diff", 2, 64)
def _diff(a: Any, b: Any, *ignored: Any) -> str:
    """ "" when the values are equal (ignoring the given keys, as compare does), else a diff."""
    if FUNCTIONS["compare"].fn(a, b, *ignored):
        return ""
    left = json.dumps(plain(a), indent=2, sort_keys=True).splitlines()
    right = json.dumps(plain(b), indent=2, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(left, right, "x", "y", lineterm="", n=1))


def _keys(name: str, keys: tuple[Any, ...]) -> list[Any]:
    flat: list[Any] = []
    for key in keys:
        flat += list(key) if isinstance(key, list | tuple) else [key]
    return flat


def _map(name: str, value: Any) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise EvalError(f"invalid argument for {name} (type {type_name(value)}, not map)")
    return value


@register("pick", 1, 64)
def _pick(value: Any, *keys: Any) -> dict[Any, Any]:
    wanted = _keys("pick", keys)
    return {k: v for k, v in _map("pick", value).items() if k in wanted}


@register("omit", 1, 64)
def _omit(value: Any, *keys: Any) -> dict[Any, Any]:
    unwanted = _keys("omit", keys)
    return {k: v for k, v in _map("omit", value).items() if k not in unwanted}


@register("merge", 1, 64)
def _merge(*maps: Any) -> dict[Any, Any]:
    merged: dict[Any, Any] = {}
    for value in maps:
        merged.update(_map("merge", value))
    return merged


@register("intersect", 2, 2)
def _intersect(a: Any, b: Any) -> Any:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return {k: v for k, v in a.items() if k in b and equal(v, b[k])}
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        common: list[Any] = []
        for item in a:
            if any(equal(item, other) for other in b) and not any(equal(item, c) for c in common):
                common.append(item)
        return common
    raise EvalError(f"intersect: cannot intersect {type_name(a)} and {type_name(b)}")


@register("basename", 1, 1)
def _basename(path: Any) -> str:
    """Go's filepath.Base: the last element; `.` for an empty path, `/` for the root."""
    if not isinstance(path, str):
        raise EvalError(f"invalid argument for basename (type {type_name(path)})")
    if path == "":
        return "."
    stripped = path.rstrip("/")
    return posixpath.basename(stripped) if stripped else "/"


@register("time", 1, 1)
def _time(value: Any) -> dt.datetime:
    text = value if isinstance(value, str) else FUNCTIONS["string"].fn(value)
    try:
        parsed = parse_time(text)
    except ValueError:
        raise EvalError(f"time: cannot parse {text!r} as a time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# -- file -----------------------------------------------------------------------------------------
@register("file", 1, 1)
def _file(path: Any, directory: Path | None = None) -> str | None:
    """The file's text (relative to the runbook), or nil if there is no such file."""
    if not isinstance(path, str):
        raise EvalError(f"invalid argument for file (type {type_name(path)})")
    target = (directory or Path.cwd()) / path.removeprefix("file://")
    try:
        return target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"file: cannot read {path}: {exc}") from None


def _with_base_dir(_node: Call, args: list[Compiled]) -> list[Compiled]:
    return [*args, Constant(BASE_DIR.get())]


CALL_HOOKS["file"] = _with_base_dir


# -- hash -----------------------------------------------------------------------------------------
def _hasher(name: str, algorithm: str) -> None:
    def digest(value: Any) -> str:
        if isinstance(value, str):
            data = value.encode()
        elif isinstance(value, bytes):
            data = value
        else:
            raise EvalError(f"invalid argument for {name} (type {type_name(value)})")
        return hashlib.new(algorithm, data).hexdigest()

    register(name, 1, 1)(digest)


_hasher("hash.Sha256", "sha256")
_hasher("hash.Sha512", "sha512")


# -- jwt ------------------------------------------------------------------------------------------
JWT_ALGORITHMS = ("HS256", "HS384", "HS512")


def _jwt_options(value: Any) -> tuple[str, str]:
    options = _map("jwt", value)
    algorithm = options.get("algorithm") or "HS256"
    if algorithm not in JWT_ALGORITHMS:
        raise EvalError(f"jwt: unsupported algorithm: {algorithm}")
    secret = options.get("secret")
    return str(algorithm), "" if secret is None else str(secret)


def _after(text: Any) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return int(time.time() + parse_duration(text))
    except DurationError:
        return None  # runn ignores a duration it cannot read


@functools.cache
def _jwt() -> Any:
    import warnings

    import jwt

    # runn signs with any secret; PyJWT's advice on key length would only add noise.
    warnings.filterwarnings("ignore", category=jwt.warnings.InsecureKeyLengthWarning)
    return jwt


@register("jwt.Sign", 1, 1, pure=False)
def _jwt_sign(value: Any) -> str:
    jwt = _jwt()

    algorithm, secret = _jwt_options(value)
    options = _map("jwt.Sign", value)
    claims: dict[str, Any] = {}
    for option, claim in (("subject", "sub"), ("issuer", "iss"), ("id", "jti")):
        if options.get(option):
            claims[claim] = str(options[option])
    if options.get("audience"):
        claims["aud"] = [str(item) for item in options["audience"]]
    for option, claim in (("expires_in", "exp"), ("not_before", "nbf")):
        moment = _after(options.get(option))
        if moment is not None:
            claims[claim] = moment
    claims.update(plain(options.get("private_claims") or {}))
    try:
        token: str = jwt.encode(claims, secret, algorithm=algorithm)
        return token
    except (TypeError, ValueError, jwt.PyJWTError) as exc:
        raise EvalError(f"jwt.Sign: {exc}") from None


@register("jwt.Parse", 2, 2, pure=False)
def _jwt_parse(token: Any, value: Any) -> dict[str, Any]:
    jwt = _jwt()

    algorithm, secret = _jwt_options(value)
    if not isinstance(token, str):
        raise EvalError(f"invalid argument for jwt.Parse (type {type_name(token)})")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[algorithm], options={"verify_aud": False}
        )
    except jwt.PyJWTError as exc:
        raise EvalError(f"jwt.Parse: {exc}") from None
    return claims


# -- faker ----------------------------------------------------------------------------------------
@functools.cache
def _faker() -> Any:
    from faker import Faker

    return Faker()


def _letters(count: Any, alphabet: str) -> str:
    return "".join(random.choice(alphabet) for _ in range(int(count)))


def _password(
    lower: bool, upper: bool, numeric: bool, special: bool, space: bool, length: int
) -> str:
    alphabet = (
        (string.ascii_lowercase if lower else "")
        + (string.ascii_uppercase if upper else "")
        + (string.digits if numeric else "")
        + ("!@#$%&*+-_=?" if special else "")
        + (" " if space else "")
    ) or string.ascii_lowercase
    return _letters(length, alphabet)


# runn's Faker names -> (least, most, what makes the value)
_FAKER: dict[str, tuple[int, int, Callable[..., Any]]] = {
    "Name": (0, 0, lambda: _faker().name()),
    "FirstName": (0, 0, lambda: _faker().first_name()),
    "LastName": (0, 0, lambda: _faker().last_name()),
    "Email": (0, 0, lambda: _faker().email()),
    "Username": (0, 0, lambda: _faker().user_name()),
    "Password": (6, 6, _password),
    "Bool": (0, 0, lambda: random.random() < 0.5),
    "UUID": (0, 0, lambda: str(uuid.uuid4())),
    "UUIDv4": (0, 0, lambda: str(uuid.uuid4())),
    "UUIDv6": (0, 0, lambda: str(uuid.uuid1())),
    "UUIDv7": (0, 0, lambda: str(_faker().uuid4())),
    "ULID": (0, 0, lambda: _faker().pystr(min_chars=26, max_chars=26).upper()),
    "Color": (0, 0, lambda: _faker().color_name()),
    "HexColor": (0, 0, lambda: _faker().hex_color()),
    "URL": (0, 0, lambda: _faker().url()),
    "Domain": (0, 0, lambda: _faker().domain_name()),
    "IPv4": (0, 0, lambda: _faker().ipv4()),
    "IPv6": (0, 0, lambda: _faker().ipv6()),
    "HTTPStatusCode": (0, 0, lambda: random.choice([200, 201, 204, 301, 400, 404, 500])),
    "HTTPMethod": (0, 0, lambda: _faker().http_method()),
    "HTTPVersion": (0, 0, lambda: random.choice(["HTTP/1.0", "HTTP/1.1", "HTTP/2.0"])),
    "UserAgent": (0, 0, lambda: _faker().user_agent()),
    "Date": (0, 0, lambda: _faker().date_time(tzinfo=dt.UTC)),
    "NanoSecond": (0, 0, lambda: random.randrange(1_000_000_000)),
    "Second": (0, 0, lambda: random.randrange(60)),
    "Minute": (0, 0, lambda: random.randrange(60)),
    "Hour": (0, 0, lambda: random.randrange(24)),
    "Month": (0, 0, lambda: random.randint(1, 12)),
    "Day": (0, 0, lambda: random.randint(1, 31)),
    "Year": (0, 0, lambda: int(_faker().year())),
    "Emoji": (0, 0, lambda: _faker().emoji()),
    "Int": (0, 0, lambda: random.randrange(2**63)),
    "IntRange": (2, 2, lambda low, high: random.randint(int(low), int(high))),
    "Float": (0, 0, lambda: random.random() * 1e308),
    "FloatRange": (2, 2, lambda low, high: random.uniform(float(low), float(high))),
    "RandomInt": (1, 1, lambda items: random.choice(list(items)) if items else 0),
    "Digit": (0, 0, lambda: random.choice(string.digits)),
    "DigitN": (1, 1, lambda n: _letters(n, string.digits)),
    "Letter": (0, 0, lambda: random.choice(string.ascii_letters)),
    "LetterN": (1, 1, lambda n: _letters(n, string.ascii_letters)),
    "Lexify": (1, 1, lambda text: _faker().lexify(str(text))),
    "Numerify": (1, 1, lambda text: _faker().numerify(str(text))),
    "RandomString": (1, 1, lambda items: random.choice(list(items)) if items else ""),
}


def _faker_function(name: str, make: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            return make(*args)
        except (TypeError, ValueError, IndexError) as exc:
            raise EvalError(f"faker.{name}: {exc}") from None

    return call


def _load_faker(_node: Call, args: list[Compiled]) -> list[Compiled]:
    _faker()  # Faker takes most of a second to load: at load, not in the first iteration
    return args


for _name, (_least, _most, _make) in _FAKER.items():
    register(f"faker.{_name}", _least, _most, pure=False)(_faker_function(_name, _make))
    CALL_HOOKS[f"faker.{_name}"] = _load_faker


# -- functions that read a terminal ---------------------------------------------------------------
def _refuse_terminal(node: Call, _args: list[Compiled]) -> list[Compiled]:
    raise ExpressionError(
        f"{node.func}() reads from a terminal, which a load test does not have",
        node.start,
        TERMINAL_HINT,
    )


for _name in TERMINAL_FUNCTIONS:
    register(_name, 0, 8, pure=False)(lambda *_args: None)
    CALL_HOOKS[_name] = _refuse_terminal
