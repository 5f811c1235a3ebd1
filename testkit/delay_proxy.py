"""A TCP relay on 127.0.0.1 that holds every byte for a fixed time in each direction: a
server across a real network (a rented GPU some cities away) where only loopback exists.

    with DelayProxy(server_port, one_way_ms=25) as proxy:
        ...connect to proxy.address...

A simulation, and said so where it is used: bandwidth is not limited, only time is added,
in order, to each direction of every connection.
"""

from __future__ import annotations

import asyncio
import threading


class DelayProxy:
    def __init__(self, target_port: int, one_way_ms: float, host: str = "127.0.0.1"):
        self.target = (host, target_port)
        self.delay = one_way_ms / 1000.0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "DelayProxy":
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run():
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(asyncio.start_server(self._connected, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="delay-proxy", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the delay proxy did not start")
        return self

    def __exit__(self, *exc) -> None:
        loop = self._loop

        async def stop():
            self._server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        loop.close()

    async def _connected(self, client_reader, client_writer) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(self._relay(client_reader, server_writer),
                                 self._relay(server_reader, client_writer), return_exceptions=True)
        except asyncio.CancelledError:   # the proxy is closing: end quietly
            client_writer.close()
            server_writer.close()

    async def _relay(self, reader, writer) -> None:
        """Bytes from reader to writer, each chunk sent `delay` after it arrived, in order."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        async def send():
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(send())
        try:
            while True:
                data = await reader.read(1 << 16)
                queue.put_nowait((loop.time() + self.delay, data))
                if not data:
                    break
            await sender
        except (ConnectionError, asyncio.CancelledError):
            sender.cancel()
            writer.close()
