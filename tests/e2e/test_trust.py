"""The trust boundary of sign-in, against the real `sluice serve` over sockets (the twin of
shared/account/tests/trust.rs and the CLI sign-in cases of identity.rs).

Two OpenID providers run on loopback with RSA keys made here (`oidc_provider.py`): A is the configured one
(`OIDC_ISSUER`, domain corp.example, `ADMIN_USERS=boss@corp.example`), B ("contractors") is added by the password
admin through `POST /admin/idps` with no domain rule. One `sluice serve` serves the whole module; the tests run in
file order and each signs in the people it needs, so a person bound by an earlier test stays bound the same way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from e2e_support import Gateway, Launcher, Sim, message_body
from oidc_provider import OidcProvider

AUDIENCE = "sluice-e2e"
BOSS = "boss@corp.example"
PASSWORD = f"trust-{uuid.uuid4().hex}"


@dataclass
class Trust:
    gw: Gateway
    a: OidcProvider
    b: OidcProvider
    b_id: str
    http: httpx2.Client
    admin: str = ""  # the password admin's session (renewed by the sign-out test)
    admin_id: str = ""

    def call(self, method: str, path: str, token: str | None = None, **kwargs: object) -> httpx2.Response:
        headers = dict(kwargs.pop("headers", None) or {})  # type: ignore[arg-type]
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return self.http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def messages(self, token: str) -> httpx2.Response:
        return self.call(
            "POST", "/v1/messages", token, json=message_body("hello", stream=False),
            headers={"anthropic-version": "2023-06-01"},
        )

    def login(self) -> str:
        resp = self.call("POST", "/auth/login", json={"username": "admin", "password": PASSWORD})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        self.admin_id = body["user_id"]
        return body["token"]

    def users(self) -> dict[str, dict]:
        resp = self.call("GET", "/admin/users", self.admin)
        assert resp.status_code == 200, resp.text
        return {u["email"]: u for u in resp.json()["users"]}

    def user_id(self, email: str) -> str:
        return self.users()[email]["id"]


def refused(resp: httpx2.Response, status: int, kind: str, *phrases: str) -> str:
    """Asserts an Anthropic error envelope with this status and type whose message has every phrase."""
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    body = resp.json()
    assert body.get("type") == "error" and body["error"]["type"] == kind, body
    message = body["error"]["message"]
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    return message


@pytest.fixture(scope="module")
def trust(launcher: Launcher, sim: Sim) -> Iterator[Trust]:
    a, b = OidcProvider.start(), OidcProvider.start()
    gw = None
    try:
        gw = launcher.gateway(
            sim,
            OIDC_ISSUER=a.issuer,
            OIDC_AUDIENCE=AUDIENCE,
            OIDC_ALLOWED_DOMAINS="corp.example",
            ADMIN_USERS=BOSS,
            ADMIN_PASSWORD=PASSWORD,
        )
        # A fresh connection per request: Sluice closes a kept-alive connection after answering a request
        # whose body it did not read (an early 401 on /v1/messages), without saying `Connection: close`, and a
        # reused connection then fails on the next request.
        no_reuse = httpx2.Limits(max_keepalive_connections=0)
        with httpx2.Client(base_url=gw.url, timeout=30, limits=no_reuse) as http:
            t = Trust(gw, a, b, "", http)
            t.admin = t.login()
            resp = t.call(
                "POST", "/admin/idps", t.admin,
                json={"name": "contractors", "issuer_url": b.issuer, "client_id": AUDIENCE},
            )
            assert resp.status_code == 201, resp.text
            t.b_id = resp.json()["id"]
            yield t
    finally:
        if gw is not None:
            gw.proc.stop()
        a.stop()
        b.stop()


# --- who a token names -------------------------------------------------------------------------------------------


def test_a_display_name_never_names_the_admin(trust: Trust) -> None:
    forged = trust.a.token(AUDIENCE, "s-name", name=BOSS)
    refused(trust.call("GET", "/admin/users", forged), 403, "permission_error")
    refused(trust.messages(forged), 403, "permission_error")
    assert BOSS not in trust.users(), "a display name created a person"


def test_an_unverified_email_is_not_the_admin(trust: Trust) -> None:
    for verified in (False, "false", None):
        extra: dict[str, object] = {"email": BOSS}
        if verified is not None:
            extra["email_verified"] = verified
        t = trust.a.token(AUDIENCE, "s-unverified", **extra)
        refused(trust.call("GET", "/admin/users", t), 403, "permission_error", "verified")
    assert BOSS not in trust.users(), "an unverified email created a person"


def test_another_subject_with_the_bosss_email_is_refused_until_an_admin_links_it(trust: Trust) -> None:
    boss = trust.a.token_for(BOSS, AUDIENCE)
    resp = trust.call("GET", "/admin/users", boss)
    assert resp.status_code == 200, f"the configured provider's ADMIN_USERS person: {resp.text}"
    boss_id = trust.user_id(BOSS)
    assert trust.users()[BOSS]["role"] == "admin"

    # Same provider, another subject, the same verified email.
    other = trust.a.token(AUDIENCE, "sub-boss-laptop", email=BOSS, email_verified=True)
    refused(
        trust.call("GET", "/admin/users", other), 403, "permission_error",
        f"not linked to {BOSS}", "An administrator can link the accounts", "--subject sub-boss-laptop",
    )
    refused(trust.messages(other), 403, "permission_error")

    # The password admin links it: then it is the boss.
    path = f"/admin/users/{boss_id}/identities"
    resp = trust.call("POST", path, trust.admin, json={"issuer": trust.a.issuer, "subject": "sub-boss-laptop"})
    assert resp.status_code == 201, resp.text
    assert trust.call("GET", "/admin/users", other).status_code == 200
    listed = trust.call("GET", path, trust.admin).json()
    assert [i["subject"] for i in listed["identities"]] == [f"sub-{BOSS}", "sub-boss-laptop"], listed

    # Unlinked, it is refused again.
    resp = trust.call("DELETE", path, trust.admin, params={"issuer": trust.a.issuer, "subject": "sub-boss-laptop"})
    assert resp.status_code == 200, resp.text
    refused(trust.call("GET", "/admin/users", other), 403, "permission_error", f"not linked to {BOSS}")
    assert trust.call("GET", "/admin/users", boss).status_code == 200, "the boss's own sign-in still works"


def test_a_second_provider_reaches_neither_the_boss_nor_admin_rights(trust: Trust) -> None:
    assert trust.call("GET", "/admin/users", trust.a.token_for(BOSS, AUDIENCE)).status_code == 200
    fake_boss = trust.b.token(AUDIENCE, "b-boss", email=BOSS, email_verified=True)
    refused(trust.call("GET", "/admin/users", fake_boss), 403, "permission_error", f"not linked to {BOSS}")
    refused(trust.messages(fake_boss), 403, "permission_error", "link")
    # Nor a person of provider A.
    assert trust.messages(trust.a.token_for("ana@corp.example", AUDIENCE)).status_code == 200
    refused(trust.messages(trust.b.token_for("ana@corp.example", AUDIENCE)), 403, "permission_error")

    # B's own new person is fine, as a member (B has no domain rule).
    newcomer = trust.b.token_for("new@partner.example", AUDIENCE)
    resp = trust.messages(newcomer)
    assert resp.status_code == 200, resp.text
    refused(trust.call("GET", "/admin/users", newcomer), 403, "permission_error")
    person = trust.users()["new@partner.example"]
    assert (person["role"], person["idp"]) == ("member", "contractors"), person


def test_the_break_glass_admin_is_never_reached_through_a_provider(trust: Trust) -> None:
    resp = trust.call("PUT", f"/admin/idps/{trust.b_id}", trust.admin, json={"user_claim": "preferred_username"})
    assert resp.status_code == 200, resp.text
    try:
        for name in ("admin", "ADMIN"):
            t = trust.b.token(AUDIENCE, f"s-{name}", preferred_username=name)
            refused(trust.call("GET", "/admin/users", t), 403, "permission_error", "break-glass")
            refused(trust.messages(t), 403, "permission_error", "break-glass")
        # Nor can an administrator link a provider's sign-in to it.
        resp = trust.call(
            "POST", f"/admin/users/{trust.admin_id}/identities", trust.admin,
            json={"issuer": trust.b.issuer, "subject": "s-admin"},
        )
        refused(resp, 400, "invalid_request_error", "break-glass")
    finally:
        resp = trust.call("PUT", f"/admin/idps/{trust.b_id}", trust.admin, json={"user_claim": "auto"})
        assert resp.status_code == 200, resp.text


# --- the CLI sign-in (RFC 8252 loopback + PKCE) -------------------------------------------------------------------


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_start(trust: Trust, session: str, port: int, verifier: str, hint: str) -> str:
    """Starts a sign-in as a helper (or an attacker) would, and answers where it sends the browser."""
    params = {"session": session, "port": port, "code_challenge": s256(verifier), "login_hint": hint}
    resp = trust.call("GET", "/auth/cli/login", params=params)
    assert resp.status_code in (302, 303, 307), resp.text
    location = resp.headers["location"]
    assert location.startswith(f"{trust.a.issuer}/authorize?"), location
    return location


def browser(trust: Trust, location: str) -> dict:
    """A browser following a sign-in: Sluice → provider → callback page, which posts the token to complete."""
    if location.startswith(trust.gw.url):
        resp = httpx2.get(location, timeout=30)
        assert resp.status_code in (302, 303, 307), resp.text
        location = resp.headers["location"]
    resp = httpx2.get(location, timeout=30)  # the provider signs the hinted person in at once
    assert resp.status_code == 302, resp.text
    callback, _, fragment = resp.headers["location"].partition("#")
    assert callback == f"{trust.gw.url}/auth/cli/callback", callback
    page = httpx2.get(callback, timeout=30)
    assert page.status_code == 200 and "/auth/cli/complete" in page.text
    got = dict(urllib.parse.parse_qsl(fragment))
    resp = trust.call("POST", "/auth/cli/complete", json={"session": got["state"], "token": got["id_token"]})
    assert resp.status_code == 200, resp.text
    return resp.json()


def code_of(redirect: str, port: int, session: str) -> str:
    url = urllib.parse.urlsplit(redirect)
    assert (url.scheme, url.netloc, url.path) == ("http", f"127.0.0.1:{port}", "/callback"), redirect
    query = dict(urllib.parse.parse_qsl(url.query))
    assert query["state"] == session, redirect
    return query["code"]


def cli_sign_in(trust: Trust, email: str) -> str:
    """The legitimate flow, played by the helper and its own browser: a Sluice session token for `email`."""
    session, verifier, port = str(uuid.uuid4()), secrets.token_urlsafe(48), free_port()
    answer = browser(trust, cli_start(trust, session, port, verifier, email))
    code = code_of(answer["redirect"], port, session)
    resp = trust.call("POST", "/auth/cli/token", json={"session": session, "code": code, "code_verifier": verifier})
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "session"
    token = resp.json()["token"]
    resp = trust.call("POST", "/auth/cli/token", json={"session": session, "code": code, "code_verifier": verifier})
    refused(resp, 401, "authentication_error")  # handed out once
    return token


def test_a_sign_in_link_started_by_an_attacker_gives_the_attacker_nothing(trust: Trust) -> None:
    attacker_verifier, session, port = secrets.token_urlsafe(48), str(uuid.uuid4()), free_port()
    link = cli_start(trust, session, port, attacker_verifier, "victim@corp.example")
    # The victim opens the link the attacker sent; their browser completes the sign-in.
    answer = browser(trust, link)
    code = code_of(answer["redirect"], port, session)  # goes to the victim's own loopback, not to the attacker
    # The attacker cannot poll for the token, nor redeem the session without the code.
    resp = trust.call("GET", "/auth/cli/poll", params={"session": session})
    assert resp.status_code == 410, resp.text
    guess = secrets.token_hex(32)
    resp = trust.call(
        "POST", "/auth/cli/token", json={"session": session, "code": guess, "code_verifier": attacker_verifier}
    )
    refused(resp, 401, "authentication_error", "sign in again")
    # A wrong guess ends the sign-in: not even the real code redeems it afterwards.
    resp = trust.call(
        "POST", "/auth/cli/token", json={"session": session, "code": code, "code_verifier": attacker_verifier}
    )
    refused(resp, 401, "authentication_error")

    # The legitimate flow gets a session token that works.
    token = cli_sign_in(trust, "dev@corp.example")
    resp = trust.messages(token)
    assert resp.status_code == 200, resp.text
    me = trust.call("GET", "/auth/me", token).json()
    assert (me["type"], me["sub"], me["role"]) == ("session", "dev@corp.example", "member"), me


def tools_dir(tmp: Path, *names: str) -> Path:
    """A PATH of exactly these tools (so no browser opener such as xdg-open is found)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name in names:
        found = shutil.which(name)
        assert found, f"{name} is needed on PATH"
        (bin_dir / name).symlink_to(found)
    return bin_dir


HELPER_TOOLS = ("bash", "python3", "curl", "mktemp", "seq", "sleep", "tr", "cat", "date", "mkdir", "chmod", "rm")


def test_the_token_helper_script_signs_in_through_the_browser(trust: Trust, tmp_path: Path) -> None:
    resp = trust.call("GET", "/auth/setup/token-script")
    assert resp.status_code == 200, resp.text
    script = tmp_path / "sluice-token.sh"
    script.write_text(resp.text)
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": str(tools_dir(tmp_path, *HELPER_TOOLS)), "LANG": "C.UTF-8"}
    helper = subprocess.Popen(
        ["bash", str(script)], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in helper.stderr], daemon=True).start()  # type: ignore[union-attr]
    seen: list[str] = []
    try:
        url = None
        deadline = time.monotonic() + 20
        while url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(line)
            if line.startswith("Sluice: sign in at "):
                url = line.removeprefix("Sluice: sign in at ").strip()
        assert url, f"the helper printed no sign-in URL: {seen}"
        assert url.startswith(f"{trust.gw.url}/auth/cli/login?session="), url
        # The person's browser: the provider signs them in, the callback page completes, and the redirect
        # reaches the helper's own loopback listener.
        answer = browser(trust, f"{url}&login_hint=helper%40corp.example")
        landing = httpx2.get(answer["redirect"], timeout=30)
        assert landing.status_code == 200 and "Signed in" in landing.text, landing.text
        out, err = helper.communicate(timeout=30)
    finally:
        if helper.poll() is None:
            os.killpg(helper.pid, signal.SIGTERM)
            helper.wait(timeout=5)
    assert helper.returncode == 0, f"{out}\n{''.join(seen)}{err}"
    token = out.strip()
    resp = trust.messages(token)
    assert resp.status_code == 200, resp.text
    assert trust.call("GET", "/auth/me", token).json()["sub"] == "helper@corp.example"
    cache = next((home / ".claude" / "tokens").iterdir())
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600 and cache.read_text() == token
    # The next run reuses the cached token without a browser.
    again = subprocess.run(["bash", str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=20)
    assert (again.returncode, again.stdout.strip()) == (0, token), again.stderr


# --- sessions ----------------------------------------------------------------------------------------------------


def test_sessions_end_at_sign_out_and_when_an_admin_revokes_them(trust: Trust) -> None:
    session = trust.login()
    assert trust.call("GET", "/auth/me", session).status_code == 200
    resp = trust.call("POST", "/auth/logout", session, json={})
    assert resp.status_code == 200, resp.text
    refused(trust.call("GET", "/auth/me", session), 401, "authentication_error", "signed out")
    refused(trust.call("GET", "/admin/users", trust.admin), 401, "authentication_error", "signed out")
    # Sign-out ends every session of the person issued before it; a sign-in right after works.
    trust.admin = trust.login()
    assert trust.call("GET", "/auth/me", trust.admin).status_code == 200

    # An administrator ends a person's sessions.
    mo = cli_sign_in(trust, "mo@corp.example")
    assert trust.messages(mo).status_code == 200
    refused(trust.call("POST", f"/admin/users/{trust.user_id('mo@corp.example')}/revoke-sessions", mo, json={}),
            403, "permission_error")
    resp = trust.call("POST", f"/admin/users/{trust.user_id('mo@corp.example')}/revoke-sessions", trust.admin, json={})
    assert resp.status_code == 200, resp.text
    refused(trust.messages(mo), 401, "authentication_error", "signed out")
    assert trust.call("GET", "/auth/me", trust.admin).status_code == 200, "only that person's sessions ended"


# --- one-time setup links ----------------------------------------------------------------------------------------


def test_a_setup_link_survives_link_scanners_and_works_once(trust: Trust, tmp_path: Path) -> None:
    resp = trust.call("POST", "/admin/users", trust.admin, json={"email": "kay@corp.example"})
    assert resp.status_code == 201, resp.text
    resp = trust.call("POST", "/admin/keys", trust.admin, json={"name": "kay-laptop", "user_id": resp.json()["id"]})
    assert resp.status_code == 201, resp.text
    key_id, raw_key = resp.json()["id"], resp.json()["key"]
    resp = trust.call("POST", f"/admin/keys/{key_id}/setup-token", trust.admin, json={"raw_key": raw_key})
    assert resp.status_code == 200, resp.text
    link = resp.json()["setup_url"]
    assert link.startswith(f"{trust.gw.url}/auth/setup?token=st_"), link

    # What a mail or chat scanner fetches: a page for a browser, a redeeming script for anything else.
    page = httpx2.get(link, headers={"accept": "text/html,application/xhtml+xml"}, timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
    assert raw_key not in page.text
    plain = httpx2.get(link, timeout=30)
    assert plain.status_code == 200, plain.text
    assert "-X POST" in plain.text and raw_key not in plain.text, plain.text

    # Neither used it up: the person's `bash -c "$(curl -fsS <link>)"` configures Claude Code with the key.
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home), "LINK": link, "LANG": "C.UTF-8",
        "PATH": str(tools_dir(tmp_path, "bash", "curl", "python3", "mkdir")),
    }
    run = subprocess.run(
        ["bash", "-c", 'bash -c "$(curl -fsS "$LINK")"'], env=env, cwd=home, capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    settings_file = home / ".claude" / "settings.json"
    settings = json.loads(settings_file.read_text())
    assert settings["env"]["ANTHROPIC_API_KEY"] == raw_key, settings
    assert settings["env"]["ANTHROPIC_BASE_URL"] == trust.gw.url, settings
    assert stat.S_IMODE(settings_file.stat().st_mode) == 0o600
    assert trust.messages(raw_key).status_code == 200

    # Used once, it is gone.
    resp = httpx2.post(link, timeout=30)
    assert resp.status_code == 410, resp.text
    assert "already used" in resp.text
