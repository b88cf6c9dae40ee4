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
