"""`sluice` as an admin client of a running Sluice: `sluice login --url`, then users, teams, keys, budgets and
spend through the admin API (`--url`), checked against what the gateway then does."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from e2e_support import SLUICE, Gateway, Launcher, Sim, base_env, nonce

PASSWORD = "cli-admin-e2e-password"


@pytest.fixture(scope="module")
def admin_gateway(launcher: Launcher, sim: Sim) -> Gateway:
    return launcher.gateway(sim, ADMIN_PASSWORD=PASSWORD, SLUICE_BUDGET_CACHE_SECS="0")


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sluice-config")


def sluice(config: Path, *args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = base_env(SLUICE_CONFIG_DIR=str(config))
    done = subprocess.run(
        [str(SLUICE), *args], env=env, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )
    if ok:
        assert done.returncode == 0, f"sluice {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def signed_in(admin_gateway: Gateway, config_dir: Path) -> Path:
    done = sluice(config_dir, "login", "--url", admin_gateway.url, "-u", "admin", stdin=PASSWORD + "\n")
    assert f"Signed in to {admin_gateway.url} as admin (role admin)" in done.stdout
    creds = config_dir / "credentials.json"
    assert oct(creds.stat().st_mode & 0o777) == "0o600"
    assert json.loads(creds.read_text())["url"] == admin_gateway.url
    return config_dir


def test_login_refuses_a_wrong_password_with_a_clear_error(admin_gateway: Gateway, tmp_path: Path) -> None:
    done = sluice(tmp_path, "login", "--url", admin_gateway.url, "-u", "admin", "-p", "wrong", ok=False)
    assert done.returncode != 0
    assert "sign-in refused (401" in done.stderr
    assert not (tmp_path / "credentials.json").exists()


def test_commands_without_a_sign_in_say_how_to_sign_in(admin_gateway: Gateway, tmp_path: Path) -> None:
    done = sluice(tmp_path, "users", "list", "--url", admin_gateway.url, ok=False)
    assert done.returncode != 0
    assert f"run `sluice login --url {admin_gateway.url}`" in done.stderr


def test_teams_and_users_through_the_admin_api(admin_gateway: Gateway, signed_in: Path) -> None:
    url = admin_gateway.url
    team = f"team-{nonce()}"
    created = sluice(signed_in, "teams", "create", "--name", team, "--url", url).stdout
    assert f"({team})" in created
    teams = json.loads(sluice(signed_in, "teams", "list", "--json", "--url", url).stdout)
    team_id = next(t["id"] for t in teams if t["name"] == team)

    email = f"{nonce()}@example.com"
    assert f"({email})" in sluice(signed_in, "users", "create", "--email", email, "--team", team, "--url", url).stdout
    users = json.loads(sluice(signed_in, "users", "list", "--json", "--url", url).stdout)
    user = next(u for u in users if u["email"] == email)
    assert user["team_id"] == team_id and user["role"] == "member"
    # The same people, seen in the server's own store.
    local = json.loads(admin_gateway.cli("users", "list", "--json").stdout)
    assert any(u["email"] == email and u["team_id"] == team_id for u in local)

    # A token the server does not accept is refused, with the hint to sign in again.
    env_token = subprocess.run(
        [str(SLUICE), "teams", "list", "--url", url], env=base_env(SLUICE_CONFIG_DIR=str(signed_in), SLUICE_TOKEN="not-a-token"),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert env_token.returncode != 0 and "session expired" in env_token.stderr


def test_store_commands_refuse_url(admin_gateway: Gateway, signed_in: Path) -> None:
    done = sluice(signed_in, "usage", "replay", "--url", admin_gateway.url, ok=False)
    assert done.returncode != 0
    assert "works on a store" in done.stderr


def budget_headers(gw: Gateway, key: str) -> dict[str, str]:
    from e2e_support import message_body

    with gw.http(key) as http:
        resp = http.post("/v1/messages", json=message_body("budget headers " + nonce(), stream=False))
    assert resp.status_code == 200, resp.text
    return {k: v for k, v in resp.headers.items() if k.startswith("x-sluice-budget-")}


def test_budgets_set_through_the_admin_api_act_on_the_gateway(admin_gateway: Gateway, signed_in: Path) -> None:
    url = admin_gateway.url
    team = f"team-{nonce()}"
    sluice(signed_in, "teams", "create", "--name", team, "--url", url)
    member, solo = f"{nonce()}@example.com", f"{nonce()}@example.com"
    sluice(signed_in, "users", "create", "--email", member, "--team", team, "--url", url)
    sluice(signed_in, "users", "create", "--email", solo, "--url", url)
    member_key = admin_gateway.cli("keys", "create", "--name", member, "--user", member).stdout.strip().splitlines()[-1]
    solo_key = admin_gateway.cli("keys", "create", "--name", solo, "--user", solo).stdout.strip().splitlines()[-1]

    # A team with a per-member default: the member's budget is that default, over the team's period.
    done = sluice(signed_in, "budget", "set", "--team", team, "--limit", "100", "--member-default", "2.50",
                  "--period", "weekly", "--policy", "shaped", "--shaped-rpm", "3", "--url", url)
    assert f"Budget of team {team} set." in done.stdout
    headers = budget_headers(admin_gateway, member_key)
    assert headers["x-sluice-budget-status"] == "ok"
    assert 2.45 <= float(headers["x-sluice-budget-remaining-usd"]) <= 2.50

    # A person's own limit beats the team default.
    sluice(signed_in, "budget", "set", "--user", member, "--limit", "7", "--period", "daily", "--url", url)
    headers = budget_headers(admin_gateway, member_key)
    assert 6.9 <= float(headers["x-sluice-budget-remaining-usd"]) <= 7.0
    assert headers["x-sluice-budget-resets"].endswith("T00:00:00Z")

    # The org default reaches people with neither; clearing it leaves them without a budget.
    sluice(signed_in, "budget", "set", "--org", "--limit", "11", "--period", "monthly", "--url", url)
    assert 10.9 <= float(budget_headers(admin_gateway, solo_key)["x-sluice-budget-remaining-usd"]) <= 11.0
    assert "cleared" in sluice(signed_in, "budget", "clear", "--org", "--url", url).stdout
    assert budget_headers(admin_gateway, solo_key) == {}

    # A person's budget takes no policy: refused before anything is sent.
    refused = sluice(signed_in, "budget", "set", "--user", solo, "--limit", "1", "--policy", "soft", "--url", url, ok=False)
    assert refused.returncode != 0 and "policies belong to teams" in refused.stderr


def test_keys_and_spend_through_the_admin_api(admin_gateway: Gateway, signed_in: Path) -> None:
    import time

    url = admin_gateway.url
    email = f"{nonce()}@example.com"
    sluice(signed_in, "users", "create", "--email", email, "--url", url)
    created = sluice(signed_in, "keys", "create", "--name", f"k-{email}", "--user", email, "--rpm", "0", "--url", url)
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sk-sluice-"), created.stdout
    key_id = created.stdout.split("Created key ", 1)[1].split(" ", 1)[0]
    listed = json.loads(sluice(signed_in, "keys", "list", "--json", "--url", url).stdout)
    entry = next(k for k in listed if k["id"] == key_id)
    assert entry["is_active"] is True and entry["name"] == f"k-{email}"

    # The key works on the gateway, and its spend shows in the period totals read through the analytics API.
    assert budget_headers(admin_gateway, secret) == {}
    deadline = time.monotonic() + 20
    while True:
        spend = json.loads(sluice(signed_in, "spend", "--period", "monthly", "--json", "--url", url).stdout)
        row = next((u for u in spend.get("by_user", []) if u["user_identity"] == email), None)
        if row or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert row is not None and row["request_count"] == 1 and row["cost_usd"] > 0, spend
    table = sluice(signed_in, "spend", "--period", "monthly", "--url", url).stdout
    assert email in table

    assert f"Revoked key {key_id}." in sluice(signed_in, "keys", "revoke", key_id, "--url", url).stdout
    listed = json.loads(sluice(signed_in, "keys", "list", "--json", "--url", url).stdout)
    assert next(k for k in listed if k["id"] == key_id)["is_active"] is False
    missing = sluice(signed_in, "keys", "revoke", "key_does_not_exist", "--url", url, ok=False)
    assert missing.returncode != 0 and "404" in missing.stderr
