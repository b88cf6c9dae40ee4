"""A minimal OpenID provider on a loopback port for the end-to-end tests (the Python twin of
shared/testkit/src/idp.rs).

`OidcProvider.start()` binds 127.0.0.1:0, generates an RSA-2048 key (`rsa-1`) and serves, from a daemon thread:
- `/.well-known/openid-configuration`: `issuer` = `http://127.0.0.1:<port>` (no trailing slash), the
  `authorization_endpoint` and `jwks_uri`;
- `/jwks`: the public half of the key;
- `/authorize`: the implicit flow Sluice's CLI sign-in uses. It signs the `login_hint` person in at once
  (`sub: "sub-<email>"`, `email_verified: true`, the request's `nonce`) and redirects to
  `<redirect_uri>#id_token=...&state=...`.

`mint(claims)` signs any claims with RS256 (nothing added), `token_for(email)` a valid token for the audience.
The server is stopped by `stop()`; being a daemon thread, it also ends with the test process.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class OidcProvider:
    def __init__(self, server: ThreadingHTTPServer, key: rsa.RSAPrivateKey, kid: str) -> None:
        self._server = server
        self._key = key
        self.kid = kid
        self.issuer = f"http://127.0.0.1:{server.server_address[1]}"
        self.requests: list[str] = []  # paths served, oldest first
        self._thread = threading.Thread(target=server.serve_forever, name=f"oidc {self.issuer}", daemon=True)

    @classmethod
    def start(cls, kid: str = "rsa-1") -> OidcProvider:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        provider = cls(server, key, kid)
        server.provider = provider  # type: ignore[attr-defined]
        provider._thread.start()
        return provider

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- tokens -------------------------------------------------------------------------------------------------

    def jwks(self) -> dict:
        public = self._key.public_key().public_numbers()
        jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": _uint(public.n), "e": _uint(public.e)}
        return {"keys": [jwk]}

    def mint(self, claims: dict) -> str:
        """An RS256 JWT of exactly `claims`, signed with this provider's key."""
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def claims(self, audience: str, sub: str, **extra: object) -> dict:
        """`iss`, `aud`, `sub`, `iat` now, `exp` in ten minutes, and `extra` (nothing about email unless given)."""
        now = int(time.time())
        return {"iss": self.issuer, "aud": audience, "sub": sub, "iat": now, "exp": now + 600, **extra}

    def token(self, audience: str, sub: str, **extra: object) -> str:
        return self.mint(self.claims(audience, sub, **extra))

    def token_for(self, email: str, audience: str, **extra: object) -> str:
        """What the provider issues when `email` signs in: `sub-<email>`, the email, verified."""
        return self.token(audience, f"sub-{email}", email=email, email_verified=True, **extra)

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """The implicit flow: the `login_hint` person is signed in without asking."""
        if query.get("response_type") != "id_token":
            return 400, {}, b"unsupported_response_type"
        client_id, redirect_uri, email = (query.get(k, "") for k in ("client_id", "redirect_uri", "login_hint"))
        if not (client_id and redirect_uri and email):
            return 400, {}, b"client_id, redirect_uri and login_hint are required"
        extra: dict[str, object] = {"email": email, "email_verified": True}
        if "nonce" in query:
            extra["nonce"] = query["nonce"]
        token = self.token(client_id, f"sub-{email}", **extra)
        fragment = urllib.parse.urlencode({"id_token": token, "state": query.get("state", "")})
        return 302, {"Location": f"{redirect_uri}#{fragment}"}, b""


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        provider: OidcProvider = self.server.provider  # type: ignore[attr-defined]
        url = urllib.parse.urlsplit(self.path)
        provider.requests.append(url.path)
        if url.path == "/.well-known/openid-configuration":
            self._json(provider.discovery())
        elif url.path == "/jwks":
            self._json(provider.jwks())
        elif url.path == "/authorize":
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            status, headers, body = provider.authorize(query)
            self._send(status, headers, body, "text/plain; charset=utf-8")
        else:
            self._send(404, {}, b"not found", "text/plain; charset=utf-8")

    def _json(self, value: dict) -> None:
        self._send(200, {}, json.dumps(value).encode(), "application/json")

    def _send(self, status: int, headers: dict[str, str], body: bytes, content_type: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        pass
