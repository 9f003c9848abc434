"""Who may reach the service and how: bearer tokens, TLS, and where it may listen.

- Tokens come from ``--token-file FILE`` (one token a line, so a new one can be
  added before the old one is dropped; blank lines and ``#`` comments ignored)
  or the ``SEOIB_SERVE_TOKEN`` environment variable. A token is at least 16
  printable ASCII characters without spaces. The file is read again on reload
  (SIGHUP, ``POST /v1/reload``), so tokens rotate without a restart.
- With tokens, every route but the probes (``/healthz``, ``/livez``,
  ``/readyz``) needs ``Authorization: Bearer <token>``; without, 401 with a
  ``WWW-Authenticate: Bearer`` header. Tokens are compared in constant time.
- Without tokens the admin routes (``/v1/reload``, ``/v1/rules``) answer only
  on a loopback address; elsewhere they are 403.
- TLS: ``--tls-cert`` and ``--tls-key`` (PEM), TLS 1.2 at least; both are read
  (and checked) before the service starts.
- Listening on an address that is not loopback without a token is refused
  (exit 3) unless ``--insecure`` says so, and then the service warns in its log.

Every refusal here is BadInput (exit 3) naming the option or the file.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
import ssl
import stat
from collections.abc import Iterable

from ..errors import BadInput, Location

__all__ = ["MIN_TOKEN", "TOKEN_ENV", "Tokens", "is_loopback", "load_tokens", "tls_context"]

TOKEN_ENV = "SEOIB_SERVE_TOKEN"
MIN_TOKEN = 16


class Tokens:
    """The accepted bearer tokens (empty: no authentication)."""

    __slots__ = ("_headers", "source")

    def __init__(self, tokens: Iterable[str] = (), source: str | None = None) -> None:
        self._headers = tuple(f"Bearer {t}".encode() for t in tokens)
        self.source = source  # the file to read again on reload, if any

    def __bool__(self) -> bool:
        return bool(self._headers)

    def allows(self, header: bytes | None) -> bool:
        """Whether an ``Authorization`` header value carries one of the tokens."""
        if header is None:
            return False
        ok = False
        for expected in self._headers:  # no early exit: the time says nothing of which one
            ok |= hmac.compare_digest(header, expected)
        return ok


def _check_token(token: str, where: Location) -> str:
    if len(token) < MIN_TOKEN:
        raise BadInput(f"a token must be at least {MIN_TOKEN} characters long", where)
    if not (token.isascii() and token.isprintable()) or any(c.isspace() for c in token):
        raise BadInput("a token is printable ASCII without spaces", where)
    return token


def load_tokens(path: str | None) -> Tokens:
    """Tokens from ``path`` (``--token-file``) or else the environment; none at all is allowed."""
    if path is not None:
        from ..files import read_limited

        if path == "":
            raise BadInput("--token-file needs a file name", Location("--token-file"))
        data = read_limited(path, 64 << 10)
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            raise BadInput(f"cannot read: {exc.strerror}", Location(path)) from None
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise BadInput("the token file is writable by others; chmod go-w it", Location(path))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput("the token file is not UTF-8 text", Location(path)) from None
        tokens = []
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if line and not line.startswith("#"):
                tokens.append(_check_token(line, Location(path, n)))
        if not tokens:
            raise BadInput("the token file holds no token", Location(path))
        return Tokens(tokens, path)
    env = os.environ.get(TOKEN_ENV)
    if env:
        return Tokens([_check_token(env.strip(), Location(TOKEN_ENV))])
    return Tokens()


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """A server TLS context from PEM files, checked now; None without them."""
    if cert is None and key is None:
        return None
    if not cert or not key:
        raise BadInput("TLS needs both --tls-cert and --tls-key", Location("--tls-cert/--tls-key"))
    for path in (cert, key):
        from ..files import read_limited

        read_limited(path, 1 << 20)  # a regular, readable file of sane size, or one clear refusal
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise BadInput(f"the certificate and key do not load: {exc.reason or exc}",
                       Location(f"{cert}, {key}")) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", Location(f"{cert}, {key}")) from None
    return ctx


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        return False
    addrs = {info[4][0] for info in infos}
    try:
        return bool(addrs) and all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addrs)
    except ValueError:
        return False
