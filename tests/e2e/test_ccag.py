"""CCAG's own admin CLI (`ccag`, crate ccag-cli 1.9.8, installed into .venv/bin by scripts/install-deps.sh), unchanged,
against `sluice serve`: login, keys, users, teams, members and a team budget, each command's output checked, and
what it changed checked through the gateway itself.

`ccag` prints results on stdout and its "[ok] ..." lines on stderr (with colour codes, stripped here). It runs with
HOME set to a temporary folder, so its ~/.ccag/config.json and token are this test's own.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import httpx2
import pytest
from e2e_support import ANSI, REPO, Gateway, Launcher, Sim, nonce

PASSWORD = "ccag-e2e-password"
CCAG = Path(os.environ.get("CCAG_BIN", REPO / ".venv" / "bin" / "ccag"))
ID = r"[A-Za-z0-9_-]+"


@pytest.fixture(scope="module")
def ccag_gateway(launcher: Launcher, sim: Sim) -> Gateway:
    if not CCAG.exists():
        pytest.fail(f"{CCAG} is missing: run `bash scripts/install-deps.sh` (or set CCAG_BIN)", pytrace=False)
    return launcher.gateway(sim, ADMIN_PASSWORD=PASSWORD, SLUICE_BUDGET_CACHE_SECS="0")


def ccag(home: Path, gw: Gateway, *args: str, ok: bool = True) -> tuple[str, str]:
    """Runs `ccag ARGS --url <gateway>`; answers (stdout, stderr without colour codes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCAG_")}
    env.update(HOME=str(home), NO_COLOR="1")
    done = subprocess.run(
        [str(CCAG), *args, "--url", gw.url], env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )
    out, err = done.stdout, ANSI.sub("", done.stderr)
    if ok:
        assert done.returncode == 0, f"ccag {' '.join(args)} failed ({done.returncode}):\n{out}\n{err}"
    else:
        assert done.returncode != 0, f"ccag {' '.join(args)} should have failed:\n{out}\n{err}"
    return out, err


@pytest.fixture(scope="module")
def home(ccag_gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ccag-home")
    _, err = ccag(home, ccag_gateway, "login", "-u", "admin", "-p", PASSWORD)
    assert "[ok] Logged in as admin (admin)" in err, err
    assert f"Gateway: {ccag_gateway.url}" in err
    token = home / ".ccag" / "token"
    assert oct(token.stat().st_mode & 0o777) == "0o600"
    assert json.loads((home / ".ccag" / "config.json").read_text())["url"] == ccag_gateway.url
    return home


def stored_setting(gw: Gateway, key: str) -> str | None:
    """A setting as `sluice serve` stored it in its SQLite file (read-only)."""
    with sqlite3.connect(f"file:{gw.data_dir / 'sluice.db'}?mode=ro", uri=True) as db:
        found = db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return found[0] if found else None


def row(stdout: str, *needles: str) -> list[str]:
    """The columns of the one stdout line that contains every needle."""
    lines = [line for line in stdout.splitlines() if all(n in line for n in needles)]
    assert len(lines) == 1, f"expected one line with {needles}:\n{stdout}"
    return lines[0].split()


def test_login_with_a_wrong_password_fails_with_the_status(ccag_gateway: Gateway, tmp_path: Path) -> None:
    _, err = ccag(tmp_path, ccag_gateway, "login", "-u", "admin", "-p", "wrong", ok=False)
    assert "Login failed: 401" in err, err
    assert not (tmp_path / ".ccag" / "token").exists()


def test_keys_create_list_revoke_and_delete(ccag_gateway: Gateway, home: Path) -> None:
    gw = ccag_gateway
    name = f"ccag-{nonce()}"
    # --rate-limit defaults to 0, "unlimited" in ccag's help; it must not break the key.
    out, err = ccag(home, gw, "keys", "create", "--name", name)
    assert f"[ok] Key created: {name}" in err, err
    assert f"export ANTHROPIC_BASE_URL={gw.url}" in err
    secret = out.strip()
    assert re.fullmatch(r"sk-sluice-\S+", secret), out
    with gw.http(secret) as http:
        assert http.get("/v1/models").status_code == 200
        for _ in range(3):
            assert http.post("/v1/messages/count_tokens", json={"model": "claude-opus-4-8", "messages": [{"role": "user", "content": "hi"}]}).status_code == 200

    # A one-time setup link for the key: its script configures Claude Code with it, once.
    listed, _ = ccag(home, gw, "keys", "list")
    setup_key_id = row(listed, name + " ")[0]
    out, _ = ccag(home, gw, "keys", "setup-token", setup_key_id, "--raw-key", secret)
    token = out.strip()
    assert re.fullmatch(r"st_[0-9a-f]{64}", token), out
    # A GET (what a link scanner does) answers a script that redeems the link with a POST, and uses nothing up.
    script = httpx2.get(f"{gw.url}/auth/setup", params={"token": token}, timeout=10)
    assert script.status_code == 200 and "-X POST" in script.text and secret not in script.text, script.text
    claude_home = home.parent / f"claude-home-{nonce()}"
    claude_home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SLUICE_API_KEY"} | {"HOME": str(claude_home)}
    done = subprocess.run(["bash", "-c", script.text], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    settings = json.loads((claude_home / ".claude" / "settings.json").read_text())
    assert settings["env"]["ANTHROPIC_API_KEY"] == secret
    assert settings["env"]["ANTHROPIC_BASE_URL"] == gw.url
    again = httpx2.post(f"{gw.url}/auth/setup", params={"token": token}, timeout=10)
    assert again.status_code == 410 and "already used" in again.text, again.text
    _, err = ccag(home, gw, "keys", "setup-token", setup_key_id, "--raw-key", "sk-sluice-not-it", ok=False)
    assert "400" in err and "is not the secret" in err, err

    limited = f"{name}-rpm"
    ccag(home, gw, "keys", "create", "--name", limited, "--rate-limit", "7")

    out, err = ccag(home, gw, "keys", "list")
    assert re.search(r"ID\s+NAME\s+ACTIVE\s+RPM\s+CREATED", err), err
    key_id, listed_name, active, rpm, created = row(out, name + " ")
    assert listed_name == name and active == "yes" and rpm == "-", out
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created), created
    assert key_id.startswith("key_")
    assert row(out, limited)[3] == "7"

    _, err = ccag(home, gw, "keys", "revoke", key_id)
    assert f"[ok] Key {key_id} revoked" in err, err
    out, _ = ccag(home, gw, "keys", "list")
    assert row(out, key_id)[2] == "no"
    with gw.http(secret) as http:
        assert http.get("/v1/models").status_code == 401

    _, err = ccag(home, gw, "keys", "delete", key_id)
    assert f"[ok] Key {key_id} deleted" in err, err
    out, _ = ccag(home, gw, "keys", "list")
    assert key_id not in out
    # A key that is gone: the server's 404 reaches the user as an API error, with the JSON envelope.
    _, err = ccag(home, gw, "keys", "delete", key_id, ok=False)
    assert "API error 404" in err and "not_found_error" in err, err


def test_users_teams_members_and_budget(ccag_gateway: Gateway, home: Path) -> None:
    gw = ccag_gateway
    team_name = f"team-{nonce()}"
    _, err = ccag(home, gw, "teams", "create", "--name", team_name)
    found = re.search(rf"\[ok\] Team created: {re.escape(team_name)} \(id: ({ID})\)", err)
    assert found, err
    team = found.group(1)
    out, err = ccag(home, gw, "teams", "list")
    assert re.search(r"ID\s+NAME\s+CREATED", err), err
    # One Bedrock per stack: no endpoints to assign, said rather than stored and ignored.
    shown, said = ccag(home, gw, "teams", "endpoints", team)
    assert "No endpoints assigned." in shown + said, shown + said
    _, err = ccag(home, gw, "teams", "set-endpoints", team, "--endpoint", "e1:1", ok=False)
    assert "400" in err and "own stack" in err, err
    assert row(out, team)[:2] == [team, team_name]

    ann, bob = f"ann-{nonce()}@example.com", f"bob-{nonce()}@example.com"
    ids = {}
    for email in (ann, bob):
        _, err = ccag(home, gw, "users", "create", "--name", email)
        found = re.search(rf"\[ok\] User created: {re.escape(email)} \(id: ({ID}), role: member\)", err)
        assert found, err
        ids[email] = found.group(1)
    out, err = ccag(home, gw, "users", "list")
    assert re.search(r"ID\s+EMAIL\s+ROLE\s+TEAM\s+CREATED", err), err
    assert row(out, ann)[:4] == [ids[ann], ann, "member", "-"]

    # set-team by id; add-member by email (ccag looks the id up in /admin/users).
    _, err = ccag(home, gw, "users", "set-team", ids[ann], "--team", team)
    assert f"[ok] User {ids[ann]} assigned to team {team}" in err, err
    out, _ = ccag(home, gw, "users", "list")
    assert row(out, ann)[3] == team
    _, err = ccag(home, gw, "teams", "add-member", "--team", team, "--user", bob)
    assert f"[ok] User {bob} added to team {team}" in err, err

    out, err = ccag(home, gw, "teams", "members", team)
    assert re.search(r"ID\s+EMAIL\s+ROLE\s+ACTIVE", err), err
    assert row(out, ann) == [ids[ann], ann, "member", "yes"]
    assert row(out, bob) == [ids[bob], bob, "member", "yes"]

    # CCAG's server answers 204 with no body here, which its own CLI cannot parse; Sluice answers JSON.
    _, err = ccag(home, gw, "teams", "remove-member", "--team", team, "--user", bob)
    assert f"[ok] User {bob} removed from team {team}" in err, err
    out, _ = ccag(home, gw, "teams", "members", team)
    assert bob not in out and ann in out

    _, err = ccag(home, gw, "teams", "set-budget", team, "--amount", "250")
    assert f"[ok] Budget set for team {team}" in err, err
    stored = stored_setting(gw, f"budget.team.{team}")
    assert stored is not None and "250" in stored, stored

    _, err = ccag(home, gw, "users", "update", ids[bob], "--role", "admin")
    assert f"[ok] User {ids[bob]} updated (role: admin)" in err, err
    out, _ = ccag(home, gw, "users", "list")
    assert row(out, bob)[2] == "admin"

    _, err = ccag(home, gw, "users", "set-team", ids[ann])
    assert f"[ok] User {ids[ann]} unassigned from team" in err, err
    out, _ = ccag(home, gw, "teams", "members", team)
    assert ann not in out

    _, err = ccag(home, gw, "users", "delete", ids[bob])
    assert f"[ok] User {ids[bob]} deleted" in err, err
    _, err = ccag(home, gw, "teams", "delete", team)
    assert f"[ok] Team {team} deleted" in err, err
    out, _ = ccag(home, gw, "teams", "list")
    assert team not in out
    out, _ = ccag(home, gw, "users", "list")
    assert bob not in out and ann in out


def test_idps_create_list_update_and_delete(ccag_gateway: Gateway, home: Path) -> None:
    gw = ccag_gateway
    name = f"okta-{nonce()}"
    issuer = f"https://{name}.okta.example.com"
    _, err = ccag(
        home, gw, "idps", "create", "--name", name, "--issuer-url", issuer, "--client-id", "client-1",
        "--allowed-domains", "example.com,example.org",
    )
    found = re.search(rf"\[ok\] IDP created: {re.escape(name)} \(id: ({ID})\)", err)
    assert found, err
    idp = found.group(1)
    out, err = ccag(home, gw, "idps", "list")
    assert re.search(r"ID\s+NAME\s+ISSUER\s+FLOW_TYPE\s+ENABLED", err), err
    assert row(out, idp) == [idp, name, issuer, "implicit", "yes"]

    # `ccag idps update` sends only the flags given; the rest must stay as they were.
    _, err = ccag(home, gw, "idps", "update", idp, "--name", f"{name}-2", "--enabled", "false")
    assert f"[ok] IDP {idp} updated" in err, err
    out, _ = ccag(home, gw, "idps", "list")
    assert row(out, idp) == [idp, f"{name}-2", issuer, "implicit", "no"]
    listed = httpx_admin(gw, home, "/admin/idps")["idps"]
    stored = next(i for i in listed if i["id"] == idp)
    assert stored["client_id"] == "client-1"
    assert stored["allowed_domains"] == ["example.com", "example.org"]

    _, err = ccag(home, gw, "idps", "delete", idp)
    assert f"[ok] IDP {idp} deleted" in err, err
    out, _ = ccag(home, gw, "idps", "list")
    assert idp not in out
    _, err = ccag(home, gw, "idps", "delete", idp, ok=False)
    assert "404" in err or "not found" in err, err


def httpx_admin(gw: Gateway, home: Path, path: str) -> dict:
    """GET an admin path with the token `ccag login` saved."""
    token = (home / ".ccag" / "token").read_text().strip()
    resp = httpx2.get(f"{gw.url}{path}", headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_scim_enable_token_admin_groups_status_and_revoke(ccag_gateway: Gateway, home: Path) -> None:
    gw = ccag_gateway
    name = f"entra-{nonce()}"
    _, err = ccag(home, gw, "idps", "create", "--name", name, "--issuer-url", f"https://{name}.example.com", "--client-id", "app")
    assert f"[ok] IDP created: {name}" in err, err
    _, err = ccag(home, gw, "scim", "enable", "--idp", name)
    assert f"[ok] SCIM enabled for IDP {name}" in err, err
    out, err = ccag(home, gw, "scim", "create-token", "--idp", name, "--name", "entra")
    token = out.strip()
    assert re.fullmatch(r"scim-sluice-[0-9a-f]{64}", token), out
    token_id = re.search(rf"ID: ({ID})", err).group(1)
    out, _ = ccag(home, gw, "scim", "list-tokens", "--idp", name)
    assert row(out, token_id)[1:3] == [token[:20] + "...", "active"], out

    # The token provisions through /scim/v2; the person shows up in `ccag users list`.
    email = f"scim-{nonce()}@example.com"
    scim = {"authorization": f"Bearer {token}", "content-type": "application/scim+json"}
    created = httpx2.post(f"{gw.url}/scim/v2/Users", headers=scim, timeout=10, json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email, "active": True})
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("application/scim+json")
    out, _ = ccag(home, gw, "users", "list")
    assert email in out

    _, err = ccag(home, gw, "scim", "set-admin-groups", "--idp", name, "--groups", "Sluice Admins,Ops")
    assert "[ok] Admin groups set" in err, err
    out, err = ccag(home, gw, "scim", "status", "--idp", name)
    out = out + err  # ccag prints the status block on stderr
    assert re.search(r"SCIM Enabled:\s+yes", out), out
    assert re.search(r"Tokens:\s+1 \(1 active\)", out), out
    assert '"Sluice Admins"' in out and '"Ops"' in out, out

    _, err = ccag(home, gw, "scim", "revoke-token", "--idp", name, "--token-id", token_id)
    assert f"[ok] SCIM token {token_id} revoked" in err, err
    refused = httpx2.get(f"{gw.url}/scim/v2/Users", headers=scim, timeout=10)
    assert refused.status_code == 401, refused.text
    _, err = ccag(home, gw, "scim", "disable", "--idp", name)
    assert f"[ok] SCIM disabled for IDP {name}" in err, err
