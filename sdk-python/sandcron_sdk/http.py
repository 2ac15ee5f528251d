"""A small blocking HTTP client over ``wasi:http/outgoing-handler``.

The host checks every request against the hosts the executor was granted before any
connection is made. Errors are raised as the failure they mean, each text starting with
``http:`` (the capability): a refused request is :class:`~sandcron_sdk.Denied`
(``http: request to URL denied: not in the allowed hosts``), a connection refused or a
timeout :class:`~sandcron_sdk.Unavailable`, a bad URL or a broken answer
:class:`~sandcron_sdk.Failed`. Responses are read whole into memory.

    response = http.get("https://example.com/health", timeout=10)
    if response.status != 200:
        raise Failed(f"health check: {response.status}")
"""

import base64
import json as _json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union
from urllib.parse import unquote, urlsplit

from componentize_py_types import Err
from wit_world.imports import monotonic_clock, outgoing_handler, poll
from wit_world.imports import streams
from wit_world.imports import wasi_http_types as t

from .failure import Denied, Failed, Failure, Unavailable

READ_CHUNK = 64 * 1024
"""Bytes asked for per read of the response body."""

Headers = Union[Dict[str, str], List[Tuple[str, str]]]


@dataclass
class Response:
    """A response, read to its end. Header names are in lower case as the host gives them."""

    status: int
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name``, matched without regard to case."""
        name = name.lower()
        return next((v for n, v in self.headers if n.lower() == name), None)

    @property
    def text(self) -> str:
        """The body as text, invalid UTF-8 replaced."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; a body that is not JSON raises ``Failed``."""
        try:
            return _json.loads(self.body)
        except ValueError as error:
            raise Failed(f"http: the response is not JSON: {error}") from None

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300


def get(url: str, *, headers: Optional[Headers] = None, timeout: Optional[float] = None) -> Response:
    """Sends a ``GET`` to ``url``; see :func:`request`."""
    return request("GET", url, headers=headers, timeout=timeout)


def post(
    url: str,
    body: Union[bytes, str] = b"",
    *,
    headers: Optional[Headers] = None,
    timeout: Optional[float] = None,
) -> Response:
    """Sends a ``POST`` with ``body`` to ``url``; see :func:`request`."""
    return request("POST", url, headers=headers, body=body, timeout=timeout)


def request(
    method: str,
    url: str,
    *,
    headers: Optional[Headers] = None,
    body: Union[bytes, str] = b"",
    timeout: Optional[float] = None,
) -> Response:
    """Sends a request and blocks until the whole response is read, ``timeout`` seconds
    (the whole exchange) run out, or the request fails.

    ``url`` is an absolute ``http://`` or ``https://`` URL; ``user:password@`` in it becomes
    a Basic ``Authorization`` header. ``Content-Length`` is added for a body.
    """
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    data = body.encode() if isinstance(body, str) else bytes(body)
    parts = _split_url(url)
    context = _Context(url, parts.netloc.rpartition("@")[2])
    deadline = None
    if timeout is not None:
        deadline = monotonic_clock.now() + int(timeout * 1e9)

    method_value = _method(method)
    has = {name.lower() for name, _ in pairs}
    fields = t.Fields()
    sends_body = bool(data) or isinstance(method_value, (t.Method_Post, t.Method_Put, t.Method_Patch))
    if sends_body and "content-length" not in has:
        pairs.append(("content-length", str(len(data))))
    if "@" in parts.netloc and "authorization" not in has:
        userinfo = unquote(parts.netloc.rpartition("@")[0])
        pairs.append(("authorization", "Basic " + base64.b64encode(userinfo.encode()).decode()))
    for name, value in pairs:
        try:
            fields.append(name, str(value).encode())
        except Err:
            raise Failed(f"http: invalid request: header {name!r} is not a valid header") from None

    outgoing = t.OutgoingRequest(fields)
    try:
        outgoing.set_method(method_value)
        outgoing.set_scheme(t.Scheme_Https() if parts.scheme == "https" else t.Scheme_Http())
        outgoing.set_authority(context.host)
        path = parts.path or "/"
        outgoing.set_path_with_query(path + ("?" + parts.query if parts.query else ""))
    except Err:
        raise Failed(f"http: invalid request: {url!r} is not a valid URL") from None
    outgoing_body = outgoing.body()

    options = None
    if timeout is not None:
        options = t.RequestOptions()
        nanos = int(timeout * 1e9)
        for setter in (options.set_connect_timeout, options.set_first_byte_timeout,
                       options.set_between_bytes_timeout):
            try:
                setter(nanos)
            except Err:
                pass  # the deadline below applies regardless
    try:
        future = outgoing_handler.handle(outgoing, options)
    except Err as error:
        raise context.error(error.value) from None
    # When the body cannot be sent the response future says why, which is the better
    # error; a server may also answer before reading the whole body. The response decides.
    try:
        _write_body(outgoing_body, data, deadline, context)
    except Failure:
        pass
    response = _wait_for_response(future, deadline, context)
    return _read_response(response, deadline, context)


def _split_url(url: str):
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise Failed(f"http: invalid request: {url!r} is not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Failed(f"http: invalid request: {url!r} is not an absolute http:// or https:// URL")
    return parts


def _method(name: str):
    standard = {
        "GET": t.Method_Get, "HEAD": t.Method_Head, "POST": t.Method_Post,
        "PUT": t.Method_Put, "DELETE": t.Method_Delete, "CONNECT": t.Method_Connect,
        "OPTIONS": t.Method_Options, "TRACE": t.Method_Trace, "PATCH": t.Method_Patch,
    }
    if not name or not all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in name):
        raise Failed(f"http: invalid request: {name!r} is not a valid method")
    known = standard.get(name.upper())
    return known() if known else t.Method_Other(name)


def _write_body(body, data: bytes, deadline, context) -> None:
    if data:
        stream = body.write()
        rest = data
        while rest:
            try:
                permitted = stream.check_write()
            except Err as error:
                raise context.stream_error(error.value) from None
            if permitted == 0:
                _wait(stream.subscribe(), deadline)
                continue
            try:
                stream.write(rest[:permitted])
            except Err as error:
                raise context.stream_error(error.value) from None
            rest = rest[permitted:]
        try:
            stream.flush()
            _wait(stream.subscribe(), deadline)
            stream.check_write()
        except Err as error:
            # The peer may close the body once it has all of it: Closed is success.
            if not isinstance(error.value, streams.StreamError_Closed):
                raise context.stream_error(error.value) from None
        stream.__exit__(None, None, None)
    try:
        t.OutgoingBody.finish(body, None)
    except Err as error:
        raise context.error(error.value) from None


def _wait_for_response(future, deadline, context):
    while True:
        result = future.get()
        if result is None:
            _wait(future.subscribe(), deadline)
            continue
        if isinstance(result, Err):
            raise Failed("http: the response was already taken")
        inner = result.value
        if isinstance(inner, Err):
            raise context.error(inner.value)
        return inner.value


def _read_response(response, deadline, context) -> Response:
    status = response.status()
    headers = [(n, v.decode("utf-8", errors="replace")) for n, v in response.headers().entries()]
    incoming = response.consume()
    stream = incoming.stream()
    chunks = []
    while True:
        try:
            chunk = stream.read(READ_CHUNK)
        except Err as error:
            if isinstance(error.value, streams.StreamError_Closed):
                break
            raise context.stream_error(error.value) from None
        if chunk:
            chunks.append(chunk)
        else:
            _wait(stream.subscribe(), deadline)
    # Children before parents: the stream, then the body, then the response.
    stream.__exit__(None, None, None)
    t.IncomingBody.finish(incoming)
    response.__exit__(None, None, None)
    return Response(status=status, headers=headers, body=b"".join(chunks))


def _wait(pollable, deadline) -> None:
    if deadline is None:
        pollable.block()
        return
    timer = monotonic_clock.subscribe_instant(deadline)
    if 0 not in poll.poll([pollable, timer]):
        raise Unavailable("http: the request timed out")


class _Context:
    """What an error message needs to name."""

    def __init__(self, url: str, host: str) -> None:
        self.url = url
        self.host = host

    def error(self, code) -> Failure:
        """Turns a ``wasi:http`` error code into the failure it means."""
        host = self.host
        name = type(code).__name__.removeprefix("ErrorCode_")
        if name in ("HttpRequestDenied", "DestinationIpProhibited"):
            return Denied(f"http: request to {self.url} denied: not in the allowed hosts")
        if name in ("DnsTimeout", "ConnectionTimeout", "ConnectionReadTimeout",
                    "ConnectionWriteTimeout", "HttpResponseTimeout"):
            return Unavailable("http: the request timed out")
        unavailable = {
            "DnsError": f"cannot resolve {host}",
            "DestinationNotFound": f"cannot resolve {host}",
            "DestinationUnavailable": f"{host} is unavailable",
            "DestinationIpUnroutable": f"{host} is unreachable",
            "ConnectionRefused": f"connection to {host} refused",
            "ConnectionTerminated": f"connection to {host} closed unexpectedly",
            "ConnectionLimitReached": f"too many connections to {host}",
            "TlsProtocolError": f"TLS handshake with {host} failed",
            "TlsAlertReceived": f"TLS alert from {host}",
        }
        if name in unavailable:
            return Unavailable(f"http: {unavailable[name]}")
        detail = getattr(code, "value", None)
        if isinstance(detail, str):
            return Failed(f"http: request to {host} failed: {detail}")
        return Failed(f"http: request to {host} failed: {name}")

    def stream_error(self, error) -> Failure:
        """Turns a body stream error into the failure it means."""
        if isinstance(error, streams.StreamError_Closed):
            return Unavailable(f"http: connection to {self.host} closed during the exchange")
        code = t.http_error_code(error.value)
        if code is not None:
            return self.error(code)
        return Unavailable(f"http: connection to {self.host} failed: {error.value.to_debug_string()}")
