"""TLS served directly: the server's SSL context and the bounded handshake.

The context (:func:`tls_context`) is built once, with clear errors for files that are
missing, unreadable or do not belong together; the handshake (:func:`tls_handshake`) runs
in the connection's own task, so a peer that never finishes it holds only its own task, and
only until ``Config.tls_handshake_timeout``. After the handshake the connection is an
ordinary ``trio.abc.Stream`` (a ``trio.SSLStream``), served through the transport's stream
path.
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING, Final

import trio

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ALPN_H2", "ALPN_HTTP11", "tls_context", "tls_handshake"]

#: The ALPN protocol id of HTTP/1.1 (RFC 7301).
ALPN_HTTP11: Final = "http/1.1"
#: The ALPN protocol id of HTTP/2 over TLS (RFC 9113 §3.2).
ALPN_H2: Final = "h2"


def tls_context(
    certfile: str | os.PathLike[str],
    keyfile: str | os.PathLike[str] | None = None,
    *,
    password: str | None = None,
    alpn_protocols: Sequence[str] = (ALPN_H2, ALPN_HTTP11),
) -> ssl.SSLContext:
    """Build the SSL context of a TLS server: TLS 1.2 or later, with ALPN.

    Args:
        certfile: The PEM file of the certificate chain (leaf first).
        keyfile: The PEM file of the private key; ``None`` when *certfile* holds it too.
        password: The key's password, if it is encrypted.
        alpn_protocols: The application protocols offered, in order of preference: HTTP/2
            first, then HTTP/1.1. Pass ``("http/1.1",)`` for a server whose
            :attr:`Config.http2 <trio_sse.Config.http2>` is ``False``.

    Returns:
        A server-side ``ssl.SSLContext`` with Python's secure defaults (no compression,
        forward-secret ciphers), ``minimum_version = TLSv1_2`` and the ALPN list set.

    Raises:
        FileNotFoundError: *certfile* or *keyfile* does not exist (the message names it).
        ValueError: a file is not PEM, the key is wrong for the certificate, or the
            password is wrong.
    """
    for name, path in (("certfile", certfile), ("keyfile", keyfile)):
        if path is not None and not os.path.isfile(path):
            raise FileNotFoundError(f"{name}: no such file: {os.fspath(path)!r}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile, password)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            raise ValueError(
                f"certfile and keyfile do not match: the key in {os.fspath(keyfile or certfile)!r}"
                f" is not the key of the certificate in {os.fspath(certfile)!r}"
            ) from exc
        raise ValueError(
            f"cannot load the certificate chain {os.fspath(certfile)!r}"
            f"{'' if keyfile is None else f' with the key {os.fspath(keyfile)!r}'}: {exc}"
        ) from exc
    if alpn_protocols:
        context.set_alpn_protocols(list(alpn_protocols))
    return context


async def tls_handshake(
    stream: trio.abc.Stream, context: ssl.SSLContext
) -> trio.SSLStream[trio.abc.Stream] | None:
    """Wrap *stream* in TLS and do the handshake; the caller bounds it in time.

    Returns the TLS stream, or ``None`` when the peer failed the handshake or left (the
    caller closes *stream*; nothing is written to a peer that does not speak TLS).
    """
    tls = trio.SSLStream(stream, context, server_side=True, https_compatible=True)
    try:
        await tls.do_handshake()
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return None
    return tls
