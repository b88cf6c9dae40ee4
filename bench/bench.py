"""Sluice overhead benchmark: what does the gateway add on top of (simulated) Bedrock?

Starts the Bedrock simulator and `sluice serve` (release build, RUST_LOG=warn) on free 127.0.0.1 ports,
then measures in one run:
  1. added time-to-first-byte: streamed request straight to the simulator's invoke-with-response-stream
     versus the same content through Sluice's /v1/messages (sequential, kept-alive connections, the two
     paths alternated request by request so background load hits both alike);
  2. added time between events: `sim:slow=20 sim:long=50` through both paths, inter-event gap percentiles;
  3. streamed requests per second through Sluice at concurrency 64 for ~10 s (wrk, a compiled load
     generator; `--loadgen python` uses asyncio + httpx instead);
  4. peak RSS (VmHWM) of the `sluice serve` process after the load.
Prints a table and overwrites bench/results.md. Run through scripts/bench.sh, which builds first.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import platform
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
from rawhttp import RawConnection

REPO = Path(__file__).resolve().parents[1]
PROFILE = "us.anthropic.claude-opus-4-8"
MODEL = "claude-opus-4-8"
PLAIN = "direct, delayed-ACK client"


# ---------------------------------------------------------------------------------------- processes


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def wait_listening(self, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.popen.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        sys.exit(f"bench: {self.name} did not start; see {self.log}:\n{self.log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def vm_hwm_kib(self) -> int:
        status = Path(f"/proc/{self.popen.pid}/status").read_text()
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        if not found:
            sys.exit("bench: no VmHWM in /proc/PID/status")
        return int(found.group(1))


def free_port() -> int:
    # With RUST_LOG=warn the processes do not log the address they bound, so pick the port here.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(name: str, argv: list[str], env: dict[str, str], workdir: Path) -> Proc:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(argv, env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    return Proc(name, popen, log)


def sluice_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLUICE_"))}
    env.update(
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true",
        RUST_LOG="warn",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------- framing


class EventSplitter:
    """Counts complete events in a byte stream as chunks arrive: AWS event-stream frames (length-prefixed)
    for the simulator, blank-line separated SSE events for Sluice."""

    def __init__(self, eventstream: bool) -> None:
        self.eventstream = eventstream
        self.buf = b""

    def feed(self, chunk: bytes) -> int:
        self.buf += chunk
        count = 0
        if self.eventstream:
            while len(self.buf) >= 4:
                (total,) = struct.unpack(">I", self.buf[:4])
                if len(self.buf) < total:
                    break
                self.buf = self.buf[total:]
                count += 1
        else:
            while b"\n\n" in self.buf:
                _, self.buf = self.buf.split(b"\n\n", 1)
                count += 1
        return count


@dataclass
class Route:
    """One way to send a streamed request: straight to the simulator, or through Sluice."""

    name: str
    url: str
    headers: dict[str, str]
    body: Callable[[str], bytes]
    eventstream: bool
    quickack: bool = True


def direct_path(sim_url: str) -> Route:
    def body(text: str) -> bytes:
        return json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 256,
                "messages": [{"role": "user", "content": text}],
            }
        ).encode()

    return Route(
        "direct to simulator",
        f"{sim_url}/model/{PROFILE}/invoke-with-response-stream",
        {"content-type": "application/json", "accept": "application/vnd.amazon.eventstream"},
        body,
        eventstream=True,
    )


def sluice_path(gw_url: str, key: str) -> Route:
    def body(text: str) -> bytes:
        return json.dumps(
            {"model": MODEL, "max_tokens": 256, "stream": True, "messages": [{"role": "user", "content": text}]}
        ).encode()

    return Route(
        "through Sluice",
        f"{gw_url}/v1/messages",
        {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": key},
        body,
        eventstream=False,
    )


@dataclass
class StreamTiming:
    ttfb: float  # seconds from sending to the first body byte
    arrivals: list[float]  # monotonic time of each complete event
    status: int


def timed_stream(conn: RawConnection, route: Route, text: str) -> StreamTiming:
    payload = route.body(text)
    splitter = EventSplitter(route.eventstream)
    arrivals: list[float] = []
    ttfb = -1.0
    start = time.perf_counter()
    status, pieces = conn.post_stream(urlsplit(route.url).path, route.headers, payload)
    for at, piece in pieces:
        if ttfb < 0:
            ttfb = at - start
        arrivals.extend([at] * splitter.feed(piece))
    if status != 200:
        sys.exit(f"bench: {route.name} answered {status}")
    return StreamTiming(ttfb, arrivals, status)


# ---------------------------------------------------------------------------------------- measurements


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[rank]


def measure_ttfb(paths: list[Route], n: int, warmup: int) -> dict[str, list[float]]:
    """Sequential, alternating between the paths, one kept-alive client (connection) per path."""
    out: dict[str, list[float]] = {p.name: [] for p in paths}
    conns = {p.name: RawConnection(p.url, timeout=30, quickack=p.quickack) for p in paths}
    try:
        for i in range(warmup + n):
            for p in paths:
                timing = timed_stream(conns[p.name], p, f"ttfb probe {i % 7}")
                if i >= warmup:
                    out[p.name].append(timing.ttfb)
    finally:
        for c in conns.values():
            c.close()
    return out


def measure_gaps(paths: list[Route], streams: int, parallel: int) -> dict[str, list[float]]:
    """Inter-event gaps of paced streams (20 ms apart at the source); `parallel` streams at once per path,
    each on its own kept-alive connection, to keep the run short."""
    out: dict[str, list[float]] = {p.name: [] for p in paths}
    for p in paths:
        lock = threading.Lock()

        def worker(path: Route = p, lock: threading.Lock = lock) -> None:
            conn = RawConnection(path.url, timeout=60, quickack=path.quickack)
            try:
                for _ in range(streams // parallel):
                    timing = timed_stream(conn, path, "sim:slow=20 sim:long=50")
                    gaps = [b - a for a, b in zip(timing.arrivals, timing.arrivals[1:], strict=False)]
                    with lock:
                        out[path.name].extend(gaps)
            finally:
                conn.close()

        threads = [threading.Thread(target=worker) for _ in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return out


def load_wrk(gw_url: str, key: str, connections: int, seconds: int) -> dict[str, float]:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("bench: wrk not found: apt-get install -y wrk (or pass --loadgen python)")
    argv = [
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(REPO / "bench" / "stream.lua"),
        f"{gw_url}/v1/messages",
    ]
    done = subprocess.run(argv, env={**os.environ, "SLUICE_BENCH_KEY": key}, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench: wrk failed:\n{done.stdout}\n{done.stderr}")
    values = dict(re.findall(r"(\w+)=(\d+)", " ".join(re.findall(r"^BENCH (.*)$", done.stdout, re.M))))
    nums = {k: float(v) for k, v in values.items()}
    errors = sum(nums[k] for k in ("errors_connect", "errors_read", "errors_status", "errors_timeout"))
    return {
        "rps": nums["complete"] / (nums["duration_us"] / 1e6),
        "complete": nums["complete"],
        "incomplete": nums["incomplete"] + errors,
        "p50_ms": nums["p50_us"] / 1000,
        "p99_ms": nums["p99_us"] / 1000,
    }


def load_python(gw_url: str, key: str, connections: int, seconds: int) -> dict[str, float]:
    path = sluice_path(gw_url, key)
    payload = path.body("benchmark request")

    async def run() -> tuple[list[float], int]:
        latencies: list[float] = []
        bad = 0
        deadline = time.perf_counter() + seconds
        limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx2.AsyncClient(timeout=30, limits=limits) as client:

            async def worker() -> None:
                nonlocal bad
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    async with client.stream("POST", path.url, content=payload, headers=path.headers) as resp:
                        body = await resp.aread()
                    if resp.status_code == 200 and b"event: message_stop" in body:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        bad += 1

            await asyncio.gather(*(worker() for _ in range(connections)))
        return latencies, bad

    t0 = time.perf_counter()
    latencies, bad = asyncio.run(run())
    elapsed = time.perf_counter() - t0
    return {
        "rps": len(latencies) / elapsed,
        "complete": len(latencies),
        "incomplete": bad,
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
    }


# ---------------------------------------------------------------------------------------- report


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, {platform.system()} {platform.release()}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def render(r: dict) -> str:
    d, s = "direct to simulator", "through Sluice"
    t, g, load = r["ttfb"], r["gaps"], r["load"]
    rows = [
        ("TTFB p50 (ms)", ms(pct(t[d], 50)), ms(pct(t[s], 50)), ms(pct(t[s], 50) - pct(t[d], 50))),
        ("TTFB p99 (ms)", ms(pct(t[d], 99)), ms(pct(t[s], 99)), ms(pct(t[s], 99) - pct(t[d], 99))),
        ("TTFB p50 (ms), direct from a delayed-ACK client", ms(pct(t[PLAIN], 50)), ms(pct(t[s], 50)),
         ms(pct(t[s], 50) - pct(t[PLAIN], 50))),
        ("TTFB p99 (ms), direct from a delayed-ACK client", ms(pct(t[PLAIN], 99)), ms(pct(t[s], 99)),
         ms(pct(t[s], 99) - pct(t[PLAIN], 99))),
        ("inter-event gap p50 (ms)", ms(pct(g[d], 50)), ms(pct(g[s], 50)), ms(pct(g[s], 50) - pct(g[d], 50))),
        ("inter-event gap p99 (ms)", ms(pct(g[d], 99)), ms(pct(g[s], 99)), ms(pct(g[s], 99) - pct(g[d], 99))),
    ]
    lines = [
        "# Sluice overhead benchmark",
        "",
        f"- Date: {r['date']}",
        f"- Machine: {r['machine']}; load average before the run: {r['loadavg']}",
        f"- Build: `target/release/sluice` ({r['version']}), `sluice serve` on SQLite with RUST_LOG=warn, "
        "upstream = `sluice bedrock-sim` on the same machine",
        f"- TTFB: {len(t[d])} sequential streamed requests per path (after {r['warmup']} warm-up each), paths "
        "alternated, one kept-alive connection per path (TCP_NODELAY + TCP_QUICKACK client, see bench/rawhttp.py); "
        "time from sending the request to the first body byte. "
        "Sluice authenticates the key on every request (from its key cache).",
        f"- Gaps: `sim:slow=20 sim:long=50`, {r['gap_streams']} streams per path ({r['gap_parallel']} at a time), "
        f"{len(g[d])} / {len(g[s])} gaps between complete events (event-stream frames direct, SSE events through Sluice).",
        "",
        "| Measure | Direct to simulator | Through Sluice | Added by Sluice |",
        "|---|---:|---:|---:|",
        *[f"| {a} | {b} | {c} | {e} |" for a, b, c, e in rows],
        "",
        f"| Load through Sluice ({load['generator']}, concurrency {r['concurrency']}, {r['seconds']} s) | Value |",
        "|---|---:|",
        f"| Completed streamed requests per second | {load['rps']:.0f} |",
        f"| Completed streams (ended with message_stop) | {load['complete']:.0f} |",
        f"| Failed or incomplete | {load['incomplete']:.0f} |",
        f"| Request latency p50 / p99 (ms) | {load['p50_ms']:.1f} / {load['p99_ms']:.1f} |",
        f"| Peak RSS of `sluice serve` after the load (VmHWM) | {r['vm_hwm_kib'] / 1024:.1f} MiB |",
        "",
        "Reading the TTFB rows: both servers set TCP_NODELAY, so a small first frame leaves at once. The "
        "delayed-ACK rows time the direct path with a client that does not force quick ACKs, as Sluice's own "
        "pooled upstream connection does not; if a server ever lost TCP_NODELAY, those rows (and the TTFB "
        "through Sluice) would jump by ~40 ms, the delayed-ACK timer.",
        "",
        "The load generator, the simulator and Sluice share the machine's CPUs, so requests per second is a "
        "lower bound for Sluice alone; with 2 CPUs the three processes compete for them.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sluice", type=Path, default=REPO / "target" / "release" / "sluice")
    ap.add_argument("--requests", type=int, default=500, help="sequential TTFB requests per path")
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--gap-streams", type=int, default=16)
    ap.add_argument("--gap-parallel", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--loadgen", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results.md")
    args = ap.parse_args()
    args.sluice = args.sluice.resolve()  # the processes run in a temporary folder
    if not args.sluice.exists():
        sys.exit(f"bench: {args.sluice} not found: cargo build --release -p sluice")

    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    procs: list[Proc] = []
    try:
        sim_port = free_port()
        sim_argv = [str(args.sluice), "bedrock-sim", "--listen", f"127.0.0.1:{sim_port}"]
        sim = start("bedrock-sim", sim_argv, sluice_env(), workdir)
        procs.append(sim)
        sim.wait_listening(sim_port)
        sim_url = f"http://127.0.0.1:{sim_port}"
        data = workdir / "data"
        made = subprocess.run(
            [str(args.sluice), "keys", "create", "--name", "bench", "--data-dir", str(data)],
            env=sluice_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        key = made.stdout.strip().splitlines()[-1]
        gw_port = free_port()
        argv = [str(args.sluice), "serve", "--listen", f"127.0.0.1:{gw_port}", "--data-dir", str(data)]
        gw = start("sluice-serve", argv, sluice_env(AWS_ENDPOINT_URL_BEDROCK_RUNTIME=sim_url), workdir)
        procs.append(gw)
        gw.wait_listening(gw_port)
        gw_url = f"http://127.0.0.1:{gw_port}"
        version = httpx2.get(f"{gw_url}/health", timeout=5).json().get("version", "?")

        paths = [direct_path(sim_url), sluice_path(gw_url, key)]
        loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        # The same direct request from a client whose kernel delays ACKs, as Sluice's upstream client's does:
        # it shows the simulator's own first-event stall (see bench/rawhttp.py), which Sluice inherits.
        plain = dataclasses.replace(paths[0], name=PLAIN, quickack=False)
        print(f"bench: TTFB, {args.requests} requests per path ...", flush=True)
        ttfb = measure_ttfb(paths, args.requests, args.warmup)
        # Back to back on its own, like Sluice's pooled upstream connection under sequential traffic: idle
        # gaps between requests would reset the kernel's delayed-ACK mode and hide the stall.
        ttfb.update(measure_ttfb([plain], args.requests, args.warmup))
        print(f"bench: inter-event gaps, {args.gap_streams} paced streams per path ...", flush=True)
        gaps = measure_gaps(paths, args.gap_streams, args.gap_parallel)
        print(f"bench: load, concurrency {args.concurrency} for {args.seconds} s with {args.loadgen} ...", flush=True)
        if args.loadgen == "wrk":
            load = load_wrk(gw_url, key, args.concurrency, args.seconds)
            load["generator"] = "wrk, 2 threads"
        else:
            load = load_python(gw_url, key, args.concurrency, args.seconds)
            load["generator"] = "Python asyncio + httpx"
        if gw.popen.poll() is not None:
            sys.exit(f"bench: sluice serve died during the run; see {gw.log}")
        result = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "loadavg": loadavg,
            "version": version,
            "ttfb": ttfb,
            "gaps": gaps,
            "load": load,
            "warmup": args.warmup,
            "gap_streams": args.gap_streams,
            "gap_parallel": args.gap_parallel,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "vm_hwm_kib": gw.vm_hwm_kib(),
        }
    finally:
        for p in reversed(procs):
            p.stop()
    report = render(result)
    print()
    print(report)
    args.out.write_text(report)
    print(f"bench: written to {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
