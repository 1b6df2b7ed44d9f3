"""A fault-injecting TCP proxy of the test's own, in front of PostgreSQL (or anything).

It forwards bytes both ways and can: cut every connection and refuse new ones until told
otherwise ("unreachable"), and cut a PostgreSQL connection right after it has forwarded a
`COMMIT`, once the database has answered it, without passing the answer on: the database
has committed, and the worker sees its connection drop (the outcome it cannot know).

It runs its own event loop in a thread, beside whatever loop the test has. PostgreSQL
must be reached without TLS through it (`sslmode=disable`), so that it can read the
client's messages.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Awaitable

HOST = "127.0.0.1"
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


class FaultProxy:
    def __init__(
        self, target_port: int, *, target_host: str = HOST, listen_hosts: tuple[str, ...] = (HOST,)
    ):
        self.target = (target_host, target_port)
        self.listen_hosts = listen_hosts
        self.port = 0
        self.refusing = False
        self.commit_cuts_armed = 0
        self.commits_cut = 0
        self.connections = 0
        self._relays: set[asyncio.Task] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(self, *exc_info) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # ---- faults ---------------------------------------------------------------------------

    def cut_and_refuse(self) -> None:
        """The target becomes unreachable: open connections drop, new ones are refused."""
        self.refusing = True
        self._call(self._drop_all())

    def restore(self) -> None:
        self.refusing = False

    def cut_after_commits(self, count: int = 1) -> None:
        """Cut each of the next `count` connections that send a COMMIT, once it is done."""
        self.commit_cuts_armed += count

    # ---- relaying -------------------------------------------------------------------------

    def _call(self, coroutine: Awaitable) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        first = await asyncio.start_server(self._relay, self.listen_hosts[0], self.port)
        self.port = first.sockets[0].getsockname()[1]
        self._servers = [first]
        for host in self.listen_hosts[1:]:
            self._servers.append(await asyncio.start_server(self._relay, host, self.port))

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        await self._drop_all()
        for server in self._servers:
            await server.wait_closed()

    async def _drop_all(self) -> None:
        relays = list(self._relays)
        for relay in relays:
            relay.cancel()
        await asyncio.gather(*relays, return_exceptions=True)

    async def _relay(self, client_reader, client_writer) -> None:
        if self.refusing:
            client_writer.transport.abort()
            return
        try:
            reader, writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self.connections += 1
        task = asyncio.current_task()
        self._relays.add(task)
        commit_done = asyncio.Event()
        pipes = [
            asyncio.ensure_future(self._client_to_server(client_reader, writer, commit_done)),
            asyncio.ensure_future(self._server_to_client(reader, client_writer, commit_done)),
        ]
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            for stream in (writer, client_writer):
                stream.transport.abort()
            self._relays.discard(task)

    async def _client_to_server(self, source, sink, commit_done: asyncio.Event) -> None:
        """Forward the client's messages one by one, noticing a COMMIT among them."""
        try:
            await _forward_startup(source, sink)
            while True:
                header = await source.readexactly(5)
                kind, length = header[:1], struct.unpack("!I", header[1:])[0]
                body = await source.readexactly(length - 4)
                is_commit = kind == b"Q" and body.rstrip(b"\0").strip().upper() == b"COMMIT"
                cut = is_commit and self.commit_cuts_armed > 0
                if cut:
                    self.commit_cuts_armed -= 1
                    self.commits_cut += 1
                    commit_done.set()  # set first: the answer must not slip through
                sink.write(header + body)
                await sink.drain()
                if cut:
                    await asyncio.Event().wait()  # until the answer comes and both are cut
        except (asyncio.IncompleteReadError, OSError):
            pass

    async def _server_to_client(self, source, sink, commit_done: asyncio.Event) -> None:
        try:
            while data := await source.read(65536):
                if commit_done.is_set():
                    return  # the COMMIT's answer: the database has committed; drop it
                sink.write(data)
                await sink.drain()
        except OSError:
            pass


async def _forward_startup(source, sink) -> None:
    """PostgreSQL's first messages have no type byte: optional SSL or GSS requests, then
    the startup message."""
    while True:
        head = await source.readexactly(8)
        length, code = struct.unpack("!II", head)
        sink.write(head + await source.readexactly(length - 8))
        await sink.drain()
        if code not in (SSL_REQUEST, GSSENC_REQUEST):
            return
