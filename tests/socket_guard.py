"""A socket guard for this test process (a served app included): every non-loopback connection or name lookup is
recorded, and with ``refuse`` also refused, so nothing leaves the machine even when a check fails."""

from __future__ import annotations

import socket

import pytest

LOOPBACK = {"127.0.0.1", "::1", "localhost", "0.0.0.0", "::"}


def guard_sockets(monkeypatch: pytest.MonkeyPatch, *, refuse: bool) -> list[str]:
    """Patch the socket layer for the rest of the test; returns the list the attempts are recorded in."""
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_create, real_getaddrinfo = socket.create_connection, socket.getaddrinfo

    def check(address) -> None:
        host = address[0] if isinstance(address, tuple) and address else address
        if str(host) not in LOOPBACK:
            attempts.append(str(address))
            if refuse:
                raise OSError(f"test socket guard: no outbound connection to {address}")

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(address)
        return real_connect_ex(self, address)

    def create_connection(address, *args, **kwargs):
        check(address)
        return real_create(address, *args, **kwargs)

    def getaddrinfo(host, *args, **kwargs):
        check((host,))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts
