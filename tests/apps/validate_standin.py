"""A stand-in of Zendesk's app validation endpoint for runs without a
Zendesk account: POST /api/v2/apps/validate over HTTPS (zcli only speaks
https://<subdomain>.<domain>), taking the package zcli built and uploads
(multipart `file`), answering 200, or 400 with {"description": ...} as
Zendesk does, by the rules of zaf_rules.py. It keeps what it received."""
import datetime
import email.parser
import email.policy
import http.server
import io
import ipaddress
import json
import os
import ssl
import threading
import zipfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import zaf_rules


def _certificate(directory):
    """A self-signed certificate for 127.0.0.1 (zcli trusts it through
    NODE_EXTRA_CA_CERTS). Returns (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(
                ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


class ValidateStandin:
    def __init__(self, directory):
        self.cert, key = _certificate(directory)
        self.received = []  # ({path: bytes} of each package, its Authorization header)
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/api/v2/apps/validate":
                    return self._answer(404, {"error": "InvalidEndpoint"})
                if not self.headers.get("Authorization"):
                    return self._answer(401, {"error": "Couldn't authenticate you"})
                files = standin._package(self.headers["Content-Type"], body)
                if files is None:
                    return self._answer(400, {"description": "no package uploaded"})
                standin.received.append((files, self.headers["Authorization"]))
                errors = zaf_rules.check(files)
                if errors:
                    return self._answer(400, {"description": "; ".join(errors)})
                return self._answer(200, {})

            def _answer(self, status, doc):
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _package(content_type, body):
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        for part in msg.iter_parts() if msg.is_multipart() else []:
            if part.get_param("name", header="content-disposition") == "file":
                with zipfile.ZipFile(io.BytesIO(part.get_payload(decode=True))) as z:
                    return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
        return None

    def zcli_env(self):
        """zcli builds https://<ZENDESK_SUBDOMAIN>.<ZENDESK_DOMAIN>: split so
        that it reads https://127.0.0.1:<port> (no DNS needed)."""
        return {"ZENDESK_SUBDOMAIN": "127.0.0", "ZENDESK_DOMAIN": f"1:{self.port}",
                "ZENDESK_EMAIL": "admin@example.com", "ZENDESK_API_TOKEN": "standin-token",
                "NODE_EXTRA_CA_CERTS": self.cert}

    def close(self):
        self.server.shutdown()
        self.server.server_close()
