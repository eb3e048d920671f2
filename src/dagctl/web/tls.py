"""HTTPS for ``dagctl serve``: the certificate and key files, checked before the server starts, and loaded again
on SIGHUP (a renewed certificate without a restart).

A bad file is one clear line that says which file and what is wrong with it: missing, unreadable, holding no
certificate, holding no key, a key that belongs to another certificate, or an encrypted key (OpenSSL would
otherwise ask for its passphrase on the terminal, and a service has none). A reload checks the new files in a
context of its own first: a bad renewal is logged and the server goes on with the certificate it has.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from dagctl.errors import UsageError

log = logging.getLogger(__name__)

__all__ = ["Certificates"]


class _Encrypted(Exception):
    """The key file needs a passphrase."""


def _no_passphrase() -> str:
    raise _Encrypted


class Certificates:
    """The server's TLS context, made from ``cert`` (PEM: the certificate, then any intermediates; it may hold the
    key too) and ``key`` (PEM, unencrypted; None when ``cert`` holds it)."""

    def __init__(self, cert: Path, key: Path | None = None) -> None:
        self.cert = cert
        self.key = key
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.set_alpn_protocols(["http/1.1"])
        self._load(self.context)
        self._warn_if_readable()

    def reload(self) -> bool:
        """Load the files again into the live context (new connections get them); False, logged, when they are
        not usable, and the server keeps the certificate it had."""
        try:
            self._load(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))  # a bad file must not half-replace the live one
            self._load(self.context)
        except UsageError as exc:
            log.error("TLS certificate not reloaded, still serving the one loaded before: %s", exc)
            return False
        log.info("TLS certificate reloaded from %s", self.cert)
        self._warn_if_readable()
        return True

    def _load(self, context: ssl.SSLContext) -> None:
        for flag, path in (("--tls-cert", self.cert), ("--tls-key", self.key)):
            if path is not None:
                _readable(flag, path)
        _holds_certificate(self.cert)
        try:
            context.load_cert_chain(self.cert, self.key, password=_no_passphrase)
        except _Encrypted:
            raise UsageError(
                f"--tls-key {self.key or self.cert} is encrypted: dagctl serve cannot ask for its passphrase",
                hint="store it decrypted, readable by the server's user only: "
                "openssl pkey -in KEY -out KEY.plain; chmod 600 KEY.plain",
            ) from None
        except ssl.SSLError as exc:
            if exc.reason == "KEY_VALUES_MISMATCH":
                raise UsageError(
                    f"--tls-key {self.key or self.cert} is not the key of the certificate in {self.cert}",
                    hint="pass the key the certificate was issued for",
                ) from None
            if self.key is None:
                raise UsageError(
                    f"--tls-cert {self.cert} holds no private key, and no --tls-key was given",
                    hint="pass the key file with --tls-key",
                ) from None
            raise UsageError(
                f"--tls-key {self.key} holds no usable private key (PEM: '-----BEGIN ... PRIVATE KEY-----')",
                hint="pass the PEM file of the certificate's private key",
            ) from None

    def _warn_if_readable(self) -> None:
        key = self.key or self.cert
        try:
            mode = key.stat().st_mode
        except OSError:
            return
        if mode & 0o077:
            log.warning("%s holds the TLS private key and can be read by other users; chmod 600 it", key)


def _readable(flag: str, path: Path) -> None:
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise UsageError(f"{flag} {path} does not exist", hint="pass the path of a PEM file") from None
    except IsADirectoryError:
        raise UsageError(f"{flag} {path} is a folder, not a PEM file", hint="pass the path of a PEM file") from None
    except OSError as exc:
        raise UsageError(
            f"{flag} {path} cannot be read: {exc.strerror or exc}", hint="check the file's permissions"
        ) from None


def _holds_certificate(path: Path) -> None:
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cafile=path)
    except (ssl.SSLError, ValueError):
        raise UsageError(
            f"--tls-cert {path} holds no certificate (PEM: '-----BEGIN CERTIFICATE-----')",
            hint="pass the server's certificate, then any intermediate ones, in one PEM file",
        ) from None
