"""A minimal HTTP/1.1 client on one kept-alive socket, for timing streamed responses precisely.

Why not httpx: the simulator's socket has Nagle's algorithm on, so after it sends the response head
its next small write waits for the client's ACK, and a request/response client's kernel delays that
ACK by ~40 ms once requests go back to back. This client sets TCP_NODELAY and (unless told not to)
re-arms TCP_QUICKACK before every read (Linux), so the peer's Nagle never waits; `quickack=False`
reproduces an ordinary client, stall included. Every read is timestamped for TTFB and gap timing.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit


class RawConnection:
    def __init__(self, base_url: str, timeout: float = 60, quickack: bool = True) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.quickack = quickack and hasattr(socket, "TCP_QUICKACK")
        self.buf = b""
        self.last_read = 0.0

    def close(self) -> None:
        self.sock.close()

    def _read(self) -> None:
        if self.quickack:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        data = self.sock.recv(65536)
        self.last_read = time.perf_counter()
        if not data:
            raise ConnectionError("connection closed by the server")
        self.buf += data

    def _take_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._read()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._read()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def post_stream(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Iterator[tuple[float, bytes]]]:
        """Send a POST; return the status and an iterator of (arrival time, body bytes) as they come.
        The iterator must be drained before the next request on this connection."""
        head = [f"POST {path} HTTP/1.1", f"host: {self.host}:{self.port}", f"content-length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status = int(self._take_line().split()[1])
        fields: dict[str, str] = {}
        while line := self._take_line():
            name, _, value = line.decode("latin-1").partition(":")
            fields[name.strip().lower()] = value.strip()
        if fields.get("transfer-encoding", "").lower() == "chunked":
            return status, self._chunked()
        return status, self._sized(int(fields.get("content-length", "0")))

    def _sized(self, length: int) -> Iterator[tuple[float, bytes]]:
        while length > 0:
            if not self.buf:
                self._read()
            piece, self.buf = self.buf[:length], self.buf[length:]
            length -= len(piece)
            yield self.last_read, piece

    def _chunked(self) -> Iterator[tuple[float, bytes]]:
        while True:
            size = int(self._take_line().split(b";")[0], 16)
            if size == 0:
                self._take_line()  # the blank line after the last chunk (no trailers are sent)
                return
            remaining = size
            while remaining > 0:
                if not self.buf:
                    self._read()
                piece, self.buf = self.buf[:remaining], self.buf[remaining:]
                remaining -= len(piece)
                yield self.last_read, piece
            self._take_line()
