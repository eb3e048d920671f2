"""``dagctl serve --tls-cert/--tls-key``: HTTPS with the operator's certificate, a clear line for every bad file
(never a passphrase prompt), and SIGHUP loading a renewed certificate without dropping the server.

The certificates are made for each test session with the ``openssl`` command (CI installs it; without it these
tests skip and say so)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dagctl.errors import UsageError
from dagctl.web.config import ServeSettings
from dagctl.web.tls import Certificates
from tests.support import wait_until

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="making test certificates needs the openssl command")


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path

    def der(self) -> bytes:
        return ssl.PEM_cert_to_DER_cert(self.cert.read_text())

    def trusted(self) -> ssl.SSLContext:
        """A client context that trusts this certificate only."""
        return ssl.create_default_context(cafile=str(self.cert))


def _openssl(*args: str) -> None:
    subprocess.run([OPENSSL or "openssl", *args], check=True, capture_output=True, timeout=60)


def _pair(folder: Path, name: str) -> Pair:
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3",
        "-subj", f"/CN=localhost/O={name}", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    key.chmod(0o600)
    return Pair(cert, key)


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pair]:
    folder = tmp_path_factory.mktemp("tls")
    pairs = {name: _pair(folder, name) for name in ("first", "second")}
    encrypted = folder / "encrypted.key"
    _openssl("pkey", "-in", str(pairs["first"].key), "-aes256", "-passout", "pass:secret", "-out", str(encrypted))
    both = folder / "both.pem"
    both.write_text(pairs["first"].cert.read_text() + pairs["first"].key.read_text())
    both.chmod(0o600)
    junk = folder / "junk.pem"
    junk.write_text("not a PEM file\n")
    pairs["encrypted"] = Pair(pairs["first"].cert, encrypted)
    pairs["both"] = Pair(both, both)
    pairs["junk"] = Pair(junk, junk)
    return pairs


def presented(context: ssl.SSLContext) -> bytes:
    """The certificate a server with ``context`` shows a client now (a handshake in memory, no socket)."""
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = context.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        try:
            client.do_handshake()
            server.do_handshake()
        except ssl.SSLWantReadError:
            continue
        break
    der = client.getpeercert(binary_form=True)
    assert der is not None, "no handshake"
    return der


# ------------------------------------------------------------------------------------------------ the files


def test_a_certificate_and_its_key_make_the_context(pems: dict[str, Pair]) -> None:
    first = pems["first"]
    assert presented(Certificates(first.cert, first.key).context) == first.der()
    assert presented(Certificates(pems["both"].cert).context) == first.der()  # key in the same file


@pytest.mark.parametrize(
    ("cert", "key", "message"),
    [
        ("missing", "first", "--tls-cert {cert} does not exist"),
        ("first", "missing", "--tls-key {key} does not exist"),
        ("junk", "first", "--tls-cert {cert} holds no certificate"),
        ("first", "junk", "--tls-key {key} holds no usable private key"),
        ("first", None, "--tls-cert {cert} holds no private key, and no --tls-key was given"),
        ("first", "second", "--tls-key {key} is not the key of the certificate in {cert}"),
        ("first", "encrypted", "--tls-key {key} is encrypted: dagctl serve cannot ask for its passphrase"),
        ("folder", "first", "--tls-cert {cert} is a folder, not a PEM file"),
    ],
)
def test_a_bad_file_is_one_line_naming_it(
    pems: dict[str, Pair], tmp_path: Path, cert: str, key: str | None, message: str
) -> None:
    def path(name: str, part: str) -> Path:
        if name == "missing":
            return tmp_path / "missing.pem"
        if name == "folder":
            return tmp_path
        return pems[name].cert if part == "cert" else pems[name].key

    cert_path, key_path = path(cert, "cert"), (path(key, "key") if key else None)
    with pytest.raises(UsageError) as caught:
        Certificates(cert_path, key_path)
    assert message.format(cert=cert_path, key=key_path) in str(caught.value)
    assert "\n" not in str(caught.value) and caught.value.hint


def test_an_unreadable_file_says_so(pems: dict[str, Pair], tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    locked = tmp_path / "locked.key"
    locked.write_bytes(pems["first"].key.read_bytes())
    locked.chmod(0)
    with pytest.raises(UsageError, match="cannot be read: Permission denied"):
        Certificates(pems["first"].cert, locked)


def test_a_key_others_can_read_is_warned_about(pems: dict[str, Pair], tmp_path: Path, caplog) -> None:
    open_key = tmp_path / "open.key"
    open_key.write_bytes(pems["first"].key.read_bytes())
    open_key.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="dagctl.web.tls"):
        Certificates(pems["first"].cert, open_key)
    assert f"{open_key} holds the TLS private key and can be read by other users; chmod 600 it" in caplog.text


def test_the_cli_refuses_bad_tls_options_before_listening(cli, pems: dict[str, Pair], tmp_path: Path) -> None:
    alone = cli("serve", "--port", "0", "--tls-key", str(pems["first"].key))
    assert alone.code == 2 and "--tls-key needs --tls-cert" in alone.err
    mismatch = cli("serve", "--port", "0", "--tls-cert", str(pems["first"].cert), "--tls-key", str(pems["second"].key))
    assert mismatch.code == 2
    assert "is not the key of the certificate" in mismatch.err and "Traceback" not in mismatch.err
    assert len(mismatch.err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------------ reloading


def test_reload_takes_a_renewed_certificate(pems: dict[str, Pair], tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(pems["first"].cert, cert)
    shutil.copy(pems["first"].key, key)
    certificates = Certificates(cert, key)
    context = certificates.context
    shutil.copy(pems["second"].cert, cert)
    shutil.copy(pems["second"].key, key)
    assert certificates.reload()
    assert certificates.context is context  # the server's listening socket keeps its context
    assert presented(context) == pems["second"].der()


def test_a_bad_renewal_keeps_the_certificate_being_served(pems: dict[str, Pair], tmp_path: Path, caplog) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(pems["first"].cert, cert)
    shutil.copy(pems["first"].key, key)
    certificates = Certificates(cert, key)
    shutil.copy(pems["second"].cert, cert)  # the certificate renewed, the key not yet
    with caplog.at_level(logging.ERROR, logger="dagctl.web.tls"):
        assert not certificates.reload()
    assert "TLS certificate not reloaded, still serving the one loaded before" in caplog.text
    assert presented(certificates.context) == pems["first"].der()  # not the new certificate with the old key


def test_the_token_in_clear_text_is_recognised() -> None:
    assert ServeSettings(host="0.0.0.0", token="t" * 32).token_in_clear
    assert not ServeSettings(host="0.0.0.0", token="t" * 32, tls_cert=Path("c.pem")).token_in_clear
    assert not ServeSettings(host="127.0.0.1", token="t" * 32).token_in_clear
    assert not ServeSettings(host="0.0.0.0").token_in_clear  # refused anyway (no token)


# ------------------------------------------------------------------------------------------------ served


def test_the_api_over_https(live, pems: dict[str, Pair]) -> None:
    first = pems["first"]
    server = live(tls=Certificates(first.cert, first.key))
    assert server.url.startswith("https://127.0.0.1:")
    client = httpx.Client(base_url=server.url, verify=first.trusted(), timeout=20)
    assert client.get("/healthz").json()["ok"] is True
    # the server's own origin is its https one: a browser's POST from the dashboard is accepted ...
    own = client.post("/api/runs", json={"dag": "quick"}, headers={"Origin": server.url})
    assert own.status_code == 202, own.text
    # ... and one from the same host over plain http is another origin
    other = client.post("/api/runs", json={"dag": "quick"}, headers={"Origin": server.url.replace("https", "http")})
    assert other.status_code == 403
    with pytest.raises(httpx.ConnectError):  # a client that does not trust it is refused by its own TLS
        httpx.get(f"{server.url}/healthz", verify=pems["second"].trusted(), timeout=20)
    run = f"/api/runs/{own.json()['run_id']}"
    assert wait_until(lambda: client.get(run).json().get("status") == "success", 30, "the run over https done")


def test_sighup_serves_a_renewed_certificate(web_project: Path, pems: dict[str, Pair], tmp_path: Path) -> None:
    """The whole command: HTTPS from the start, SIGHUP after the files were replaced, new connections get the
    new certificate, the server never stopped; SIGTERM still exits 0, and at once even with a client's idle
    connection open (a closed TLS connection waits for the client's close_notify, which an idle pool never sends)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(pems["first"].cert, cert)
    shutil.copy(pems["first"].key, key)
    err_path = tmp_path / "serve.err"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dagctl", "serve", "--port", "0", "--tls-cert", str(cert), "--tls-key", str(key)],
            cwd=web_project,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        url = str(wait_until(lambda: _url(err_path), 20, "the listening line"))
        assert url.startswith("https://")
        assert httpx.get(f"{url}/healthz", verify=pems["first"].trusted(), timeout=20).status_code == 200
        shutil.copy(pems["second"].cert, cert)
        shutil.copy(pems["second"].key, key)
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "TLS certificate reloaded" in err_path.read_text(), 20, "the reload logged")
        pooled = httpx.Client(verify=pems["second"].trusted(), timeout=20)
        assert pooled.get(f"{url}/healthz").status_code == 200  # its connection stays open in the pool
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(8) == 0  # not the 10 s uvicorn waits for connections to close
        pooled.close()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _url(err_path: Path) -> str | None:
    for line in err_path.read_text().splitlines():
        if line.startswith("dagctl serve: listening on "):
            return line.rsplit(" ", 1)[1]
    return None


def test_the_session_cookie_is_secure_over_https(live, pems: dict[str, Pair]) -> None:
    first = pems["first"]
    token = "t0k3n-" * 6
    server = live(tls=Certificates(first.cert, first.key), token=token)
    client = httpx.Client(base_url=server.url, verify=first.trusted(), timeout=20)
    answer = client.post("/login", data={"token": token, "next": "/"}, headers={"Origin": server.url})
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "secure" in cookie.split("; ") and "httponly" in cookie
    assert client.get("/api/runs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
