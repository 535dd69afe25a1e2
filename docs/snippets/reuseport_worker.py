"""One worker of several sharing a port with SO_REUSEPORT (docs/howto-deploy.rst).

Start it several times with the same port; Linux spreads new connections over the
processes. Each one answers ``GET /`` with its process id, which shows the spread::

    python docs/snippets/reuseport_worker.py --port 8080 &
    python docs/snippets/reuseport_worker.py --port 8080 &
    for i in 1 2 3 4; do curl http://127.0.0.1:8080/; done

SIGTERM or Ctrl-C stops a worker gracefully: it stops accepting (the kernel sends new
connections to the others), open streams get their farewell, and connections get
``--grace`` seconds to finish.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket

import trio

import trio_sse

logger = logging.getLogger("worker")


async def open_reuseport_listener(host: str, port: int) -> trio.SocketListener:
    """A listening socket that other processes may bind to the same address too."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    await sock.bind((host, port))
    sock.listen()
    return trio.SocketListener(sock)


def build_app() -> trio_sse.Router:
    """Any application works the same way; this one says which process answered."""
    router = trio_sse.Router()

    @router.route("/")
    async def index(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response(f"worker {os.getpid()}\n")

    return router


async def main(args: argparse.Namespace) -> None:
    config = trio_sse.Config(shutdown_grace_period=args.grace)
    server = trio_sse.Server(build_app(), config=config)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        listener = await open_reuseport_listener(args.host, args.port)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve_listeners, [listener])
            logger.info("worker %d serving on http://%s:%d/", os.getpid(), args.host, server.port)
            async for signum in signals:
                logger.info("%s: shutting down", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--grace", type=float, default=5.0)
    logging.basicConfig(level="INFO", format="%(asctime)s %(name)s: %(message)s")
    trio.run(main, parser.parse_args())
