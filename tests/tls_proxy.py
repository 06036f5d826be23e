"""A real nginx terminating TLS in front of the Temporal dev server (`grpc_pass`), as a
Temporal cluster behind an ingress or Temporal Cloud looks to a worker.

`Certificates` makes a CA, a server certificate (for `localhost` and 127.0.0.1)
and a client certificate with the `cryptography` package. `TLSProxy` runs nginx
in the foreground with its own configuration: requiring a client certificate
signed by the CA (mTLS), or checking an API key in the `authorization` header.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent_runner.local.temporal_server import free_port
from tests.helpers import wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        usage = (
            x509.ExtendedKeyUsageOID.SERVER_AUTH if server else x509.ExtendedKeyUsageOID.CLIENT_AUTH
        )
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    """A CA that signed nothing here: trusting it instead of `ca` must fail."""

    @classmethod
    def make(cls, folder: Path) -> Certificates:
        folder.mkdir(parents=True, exist_ok=True)
        ca_key, other_key = _key(), _key()
        ca = _certificate("agent-runner test CA", ca_key, None, ca=True)
        other = _certificate("some other CA", other_key, None, ca=True)
        server_key, client_key = _key(), _key()
        issuer = ("agent-runner test CA", ca_key)
        return cls(
            ca=_write_cert(ca, folder / "ca.pem"),
            server_cert=_write_cert(
                _certificate("localhost", server_key, issuer, server=True), folder / "server.pem"
            ),
            server_key=_write_key(server_key, folder / "server.key"),
            client_cert=_write_cert(
                _certificate("agent-runner worker", client_key, issuer), folder / "client.pem"
            ),
            client_key=_write_key(client_key, folder / "client.key"),
            other_ca=_write_cert(other, folder / "other-ca.pem"),
        )


class TLSProxy:
    """nginx on a loopback port: TLS in, plaintext gRPC to `upstream`."""

    def __init__(
        self,
        folder: Path,
        upstream: str,
        certificates: Certificates,
        *,
        require_client_cert: bool = False,
        api_key: str | None = None,
    ) -> None:
        self.folder = folder
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        client_check = (
            f"ssl_client_certificate {certificates.ca};\n        ssl_verify_client on;"
            if require_client_cert
            else ""
        )
        # gRPC status 16 (UNAUTHENTICATED) as a Temporal Cloud front end answers a bad key.
        key_check = (
            f"""if ($http_authorization != "Bearer {api_key}") {{
                add_header grpc-status 16 always;
                add_header grpc-message "invalid API key" always;
                return 401;
            }}"""
            if api_key
            else ""
        )
        (folder / "nginx.conf").write_text(
            f"""
daemon off;
master_process off;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server {{
        listen 127.0.0.1:{self.port} ssl http2;
        ssl_certificate {certificates.server_cert};
        ssl_certificate_key {certificates.server_key};
        {client_check}
        grpc_read_timeout 300s;
        grpc_send_timeout 300s;
        location / {{
            {key_check}
            grpc_pass grpc://{upstream};
        }}
    }}
}}
"""
        )
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> TLSProxy:
        self.process = subprocess.Popen(
            [NGINX, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_until(self._listening, timeout=30, what=f"nginx to listen on {self.address}")
        return self

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            errors = self.process.stderr.read().decode() if self.process.stderr else ""
            raise AssertionError(f"nginx exited: {errors} {self.error_log()}")
        import socket

        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def error_log(self) -> str:
        log = self.folder / "error.log"
        return log.read_text() if log.exists() else ""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
