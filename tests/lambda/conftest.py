"""Fixtures for the Lambda-runtime test: moto (DynamoDB), the Bedrock simulator, the Lambda runtime
API emulator (`cargo lambda watch --only-lambda-apis`) and the gateway binary connected to it.

Every process is started here on 127.0.0.1 with a free port, logs to a file, and is stopped by its
PID at the end of the module. A missing tool or binary fails with a message saying how to get it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
if not TARGET_DIR.is_absolute():
    TARGET_DIR = REPO / TARGET_DIR
TABLE = "sluice-lambda-test"
REGION = "us-east-1"
# The emulator serves the function under this name; it must match AWS_LAMBDA_FUNCTION_NAME.
FUNCTION_NAME = "_"
KEY_PATTERN = re.compile(r"sk-sluice-[A-Za-z0-9]{40}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_file(path: Path, how: str) -> Path:
    if not path.exists():
        pytest.fail(f"{path} not found: {how}", pytrace=False)
    return path


def aws_env(moto_url: str, **extra: str) -> dict[str, str]:
    """The environment a Sluice process gets: no AWS settings of the person running the test leak
    in (profiles, real credentials, regions), only fake credentials and local endpoints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLUICE_"))}
    env.update(
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="y",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL_DYNAMODB=moto_url,
        RUST_LOG=os.environ.get("RUST_LOG", "info"),
        RUST_BACKTRACE="1",
    )
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return f"--- {self.name} (pid {self.popen.pid}, exit {self.popen.poll()}), {self.log}:\n" + "\n".join(
            text.splitlines()[-lines:]
        )

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


class Processes:
    """The processes of one test module, stopped in reverse start order."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Proc] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        proc = Proc(name, popen, log)
        self.started.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.started)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


def wait_for_port(proc: Proc, port: int, procs: Processes, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            pytest.fail(f"{proc.name} exited before listening on {port}\n{procs.logs()}", pytrace=False)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{proc.name} did not listen on 127.0.0.1:{port} within {timeout} s\n{procs.logs()}", pytrace=False)


def wait_for_http(proc: Proc, url: str, procs: Processes, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            pytest.fail(f"{proc.name} exited before answering {url}\n{procs.logs()}", pytrace=False)
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    pytest.fail(f"{proc.name} did not answer {url} within {timeout} s\n{procs.logs()}", pytrace=False)


@pytest.fixture(scope="module")
def procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    p = Processes(tmp_path_factory.mktemp("lambda-logs"))
    yield p
    # Shown by pytest with a failing test's report; cheap to produce otherwise.
    print(p.logs())
    p.stop_all()


@pytest.fixture(scope="module")
def moto_url(procs: Processes) -> str:
    moto = require_file(VENV_BIN / "moto_server", "run scripts/install-deps.sh (installs moto[server] into .venv)")
    port = free_port()
    proc = procs.start("moto", [str(moto), "-H", "127.0.0.1", "-p", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_for_http(proc, f"{url}/moto-api/", procs)
    return url


@pytest.fixture(scope="module")
def table(moto_url: str) -> str:
    """The table as template.yaml defines it (keys, GSI, stream, TTL), created in moto."""
    import boto3
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((REPO / "template.yaml").read_text(encoding="utf-8"))
    props = template["Resources"]["Table"]["Properties"]
    ddb = boto3.client(
        "dynamodb", endpoint_url=moto_url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    ddb.create_table(
        TableName=TABLE,
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
        StreamSpecification={"StreamEnabled": True, **props["StreamSpecification"]},
    )
    ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification=props["TimeToLiveSpecification"])
    return TABLE


@pytest.fixture(scope="module")
def api_key(moto_url: str, table: str) -> str:
    """A virtual key created the way an operator would: `sluice keys create --table` on DynamoDB."""
    sluice = require_file(TARGET_DIR / "debug" / "sluice", "build it with `cargo build -p sluice` (make test-lambda does)")
    argv = [str(sluice), "keys", "create", "--name", "lambda-test", "--table", table]
    result = subprocess.run(
        argv, cwd=REPO, env=aws_env(moto_url), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    found = KEY_PATTERN.search(result.stdout)
    if result.returncode != 0 or not found:
        pytest.fail(
            f"`{' '.join(argv[1:])}` did not print a new key (exit {result.returncode})\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
            pytrace=False,
        )
    return found.group(0)


@pytest.fixture(scope="module")
def bedrock_url(procs: Processes) -> str:
    sluice = require_file(TARGET_DIR / "debug" / "sluice", "build it with `cargo build -p sluice` (make test-lambda does)")
    port = free_port()
    proc = procs.start("bedrock-sim", [str(sluice), "bedrock-sim", "--listen", f"127.0.0.1:{port}"])
    wait_for_port(proc, port, procs)
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def function_url(procs: Processes, moto_url: str, table: str, bedrock_url: str) -> str:
    """Base URL of the gateway's Function URL, as served by the emulator: the real binary polls the
    emulator's runtime API and streams its responses back through it."""
    cargo_lambda = require_file(
        VENV_BIN / "cargo-lambda", "run scripts/install-deps.sh (installs cargo-lambda into .venv)"
    )
    gateway = require_file(
        TARGET_DIR / "debug" / "sluice-gateway", "build it with `cargo build -p sluice-gateway` (make test-lambda does)"
    )
    port = free_port()
    emulator = procs.start(
        "cargo-lambda-watch",
        [
            str(cargo_lambda),
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            str(port),
        ],
    )
    # A TCP probe, not HTTP: any HTTP request to the emulator would queue an invocation.
    wait_for_port(emulator, port, procs, timeout=60)
    env = aws_env(
        moto_url,
        AWS_LAMBDA_RUNTIME_API=f"http://127.0.0.1:{port}/.rt",
        AWS_LAMBDA_FUNCTION_NAME=FUNCTION_NAME,
        AWS_LAMBDA_FUNCTION_VERSION="1",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=bedrock_url,
        SLUICE_TABLE=table,
        SLUICE_SESSION_SECRET=SESSION_SECRET,
    )
    proc = procs.start("sluice-gateway", [str(gateway)], env)
    # Give a binary that crashes at start-up (bad config) the chance to show it before the first request.
    time.sleep(1.0)
    if proc.popen.poll() is not None:
        pytest.fail(f"sluice-gateway exited at start-up\n{procs.logs()}", pytrace=False)
    return f"http://127.0.0.1:{port}/lambda-url/{FUNCTION_NAME}"


ADMIN_PASSWORD = "lambda-test-admin-password"
# Both functions verify session tokens with the same key (on AWS: the SessionSecret in Secrets Manager).
SESSION_SECRET = "lambda-test-session-secret-0123456789abcdef"
# Under `--only-lambda-apis` the emulator serves the one function it knows as "_".
ADMIN_FUNCTION_NAME = "_"


@pytest.fixture(scope="module")
def admin_url(procs: Processes, moto_url: str, table: str) -> str:
    """Base URL of the admin function's (buffered) Function URL: the real `sluice-admin` binary under its own
    runtime-API emulator, on the same table as the gateway."""
    cargo_lambda = require_file(
        VENV_BIN / "cargo-lambda", "run scripts/install-deps.sh (installs cargo-lambda into .venv)"
    )
    admin = require_file(
        TARGET_DIR / "debug" / "sluice-admin", "build it with `cargo build -p sluice-admin` (make test-lambda does)"
    )
    port = free_port()
    emulator = procs.start(
        "cargo-lambda-watch-admin",
        [str(cargo_lambda), "lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1",
         "--invoke-port", str(port)],
    )
    wait_for_port(emulator, port, procs, timeout=60)
    env = aws_env(
        moto_url,
        AWS_LAMBDA_RUNTIME_API=f"http://127.0.0.1:{port}/.rt",
        AWS_LAMBDA_FUNCTION_NAME=ADMIN_FUNCTION_NAME,
        AWS_LAMBDA_FUNCTION_VERSION="1",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        SLUICE_TABLE=table,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        SLUICE_SESSION_SECRET=SESSION_SECRET,
    )
    proc = procs.start("sluice-admin", [str(admin)], env)
    time.sleep(1.0)
    if proc.popen.poll() is not None:
        pytest.fail(f"sluice-admin exited at start-up\n{procs.logs()}", pytrace=False)
    return f"http://127.0.0.1:{port}/lambda-url/{ADMIN_FUNCTION_NAME}"
