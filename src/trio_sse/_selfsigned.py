"""A throwaway certificate for ``trio-sse serve --self-signed``: HTTPS (and so HTTP/2) locally.

The certificate is self-signed, for ``localhost``, ``127.0.0.1`` and ``::1``, with an
ECDSA P-256 key, valid for :data:`VALIDITY_DAYS` days. It is made with the
``cryptography`` package when it is importable (``pip install trio-sse[tls]``), and
otherwise with the ``openssl`` command line. Both run synchronously, before the server's
``trio.run``: no thread, no event loop. The files go to a folder the caller owns (the
command line uses a temporary directory, removed at exit): ``ssl.SSLContext`` only loads
certificates from files.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "HOSTS",
    "VALIDITY_DAYS",
    "SelfSignedUnavailableError",
    "write_self_signed",
]

#: The names the certificate is valid for (its subjectAltName).
HOSTS: Final = ("localhost", "127.0.0.1", "::1")
VALIDITY_DAYS: Final = 30
_OPENSSL_TIMEOUT: Final = 60.0


class SelfSignedUnavailableError(RuntimeError):
    """Neither ``cryptography`` nor the ``openssl`` command line is available."""


def write_self_signed(folder: Path) -> tuple[Path, Path, str]:
    """Write a new self-signed certificate and its key into *folder*.

    Returns:
        ``(certfile, keyfile, tool)``: the two PEM files, and what made them
        (``"cryptography"`` or ``"openssl"``). The key file is readable by its owner only.

    Raises:
        SelfSignedUnavailableError: neither ``cryptography`` nor ``openssl`` is available.
        OSError: ``openssl`` failed (its error output is in the message).
    """
    certfile, keyfile = folder / "selfsigned-cert.pem", folder / "selfsigned-key.pem"
    try:
        import cryptography  # noqa: F401 - only whether it is there
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise SelfSignedUnavailableError(
                "--self-signed needs the 'cryptography' package (pip install 'trio-sse[tls]') "
                "or the 'openssl' command line; neither was found"
            ) from None
        _with_openssl(openssl, certfile, keyfile)
        return certfile, keyfile, "openssl"
    _with_cryptography(certfile, keyfile)
    return certfile, keyfile, "cryptography"


def _with_cryptography(certfile: Path, keyfile: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt_names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    alt_names += [x509.IPAddress(ipaddress.ip_address(host)) for host in HOSTS[1:]]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))  # tolerate a clock a bit behind
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(
        keyfile,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _with_openssl(openssl: str, certfile: Path, keyfile: Path) -> None:
    alt_names = ",".join(
        [f"DNS:{HOSTS[0]}", *(f"IP:{host}" for host in HOSTS[1:])],
    )
    command = [
        openssl,
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-sha256",
        "-days",
        str(VALIDITY_DAYS),
        "-subj",
        "/CN=localhost",
        "-addext",
        f"subjectAltName={alt_names}",
        "-addext",
        "basicConstraints=critical,CA:FALSE",  # replaces the config's CA:TRUE
        "-addext",
        "extendedKeyUsage=serverAuth",
        "-keyout",
        os.fspath(keyfile),
        "-out",
        os.fspath(certfile),
    ]
    result = subprocess.run(  # a fixed command, no shell
        command, capture_output=True, text=True, timeout=_OPENSSL_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise OSError(f"openssl req failed ({result.returncode}): {result.stderr.strip()}")
    os.chmod(keyfile, 0o600)


def _write_private(path: Path, data: bytes) -> None:
    """Write *data* to a new file that only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
