"""Fixtures for the end-to-end tests: `sluice serve` in front of the Bedrock simulator, over real sockets.

The session builds `sluice` (`cargo build -p sluice`, quick when up to date), then starts processes on
demand through one `Launcher`; each is stopped by its PID when the session ends. A gateway with special
settings (a 1 MB body limit, a 1 s ping interval, a simulator that rejects a beta) gets its own pair of
processes so that its settings cannot leak into other tests.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import anthropic
import pytest
from e2e_support import REPO, SLUICE, Gateway, Launcher, Sim


@pytest.fixture(scope="session")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    build = subprocess.run(
        ["cargo", "build", "-p", "sluice"], cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if build.returncode != 0 or not SLUICE.exists():
        pytest.fail(f"`cargo build -p sluice` failed ({build.returncode}):\n{build.stderr[-4000:]}", pytrace=False)
    launched = Launcher(tmp_path_factory.mktemp("e2e"))
    yield launched
    launched.stop_all()


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest, launcher: Launcher) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        # Shown in the failing test's report section.
        print(launcher.logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def sim(launcher: Launcher) -> Sim:
    return launcher.sim()


@pytest.fixture(scope="session")
def gateway(launcher: Launcher, sim: Sim) -> Gateway:
    return launcher.gateway(sim)


@pytest.fixture(scope="session")
def key(gateway: Gateway) -> str:
    return gateway.create_key("e2e")


@pytest.fixture(scope="session")
def client(gateway: Gateway, key: str) -> anthropic.Anthropic:
    return gateway.client(key)
