"""The Swarm backend's loopback gateway: a TCP relay run (stdlib only) in a container published on 127.0.0.1.

Usage: python3 swarm_gateway.py TARGET PORT [LISTEN_PORT]. Each connection goes to one of the addresses
TARGET resolves to on the overlay network (a Swarm service in DNS round-robin mode: one address per task
that passed its health check), taken in turn; an address that refuses is skipped. With none answering, the
client gets a 503. This file is read by pipeline.deploy.swarm and run inside the container, never imported
by the line.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import sys

CONNECT_SECONDS = 2.0
CHUNK = 65536
NO_REPLICA = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 36\r\n"
    b"Connection: close\r\n\r\nno healthy replica of this service\r\n"
)
_turn = itertools.count()


async def _resolve(target: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(target, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


async def _upstream(target: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    addresses = await _resolve(target, port)
    if not addresses:
        return None
    start = next(_turn) % len(addresses)
    for address in addresses[start:] + addresses[:start]:
        try:
            return await asyncio.wait_for(asyncio.open_connection(address, port), CONNECT_SECONDS)
        except (OSError, TimeoutError):
            continue
    return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


async def _relay(target: str, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    upstream = await _upstream(target, port)
    if upstream is None:
        writer.write(NO_REPLICA)
        await writer.drain()
        writer.close()
        return
    up_reader, up_writer = upstream
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)
    up_writer.close()
    writer.close()


async def _serve(target: str, port: int, listen_port: int) -> None:
    server = await asyncio.start_server(
        lambda r, w: _relay(target, port, r, w), host="0.0.0.0", port=listen_port
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    arguments = sys.argv[1:]
    asyncio.run(_serve(arguments[0], int(arguments[1]), int(arguments[2]) if len(arguments) > 2 else 8080))
