"""Run voice-app under an audit hook that fails on any non-loopback connection and logs every one.

Usage: python -m tests.care.netguard LOGFILE voice-app-args...
"""

from __future__ import annotations

import ipaddress
import socket
import sys

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def install(log_path: str) -> None:
    log = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the process

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "socket.connect":
            sock, address = args[0], args[1]
            if getattr(sock, "family", None) == socket.AF_UNIX:
                return
            host = address[0] if isinstance(address, tuple) else address
            log.write(f"connect {host}\n")
            if not _is_loopback(host):
                log.write(f"BLOCKED {address}\n")
                raise ConnectionRefusedError(f"network guard: connection to {address} is not allowed")
        elif event == "socket.getaddrinfo":
            host = args[0]
            log.write(f"resolve {host}\n")
            if host is not None and not _is_loopback(host):
                log.write(f"BLOCKED lookup {host}\n")
                raise ConnectionRefusedError(f"network guard: lookup of {host} is not allowed")

    sys.addaudithook(hook)


if __name__ == "__main__":
    install(sys.argv[1])
    from voice_app.cli import main

    sys.exit(main(sys.argv[2:]))
