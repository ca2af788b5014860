"""t_websocket_server: a WebSocket echo origin for t_websocket.sh.

Runs under Debian's python3 with python3-websockets (10.4 in Debian 12;
the handler also copes with the request object of websockets 14+).  Listens on
127.0.0.1, prints "PORT n", then for each connection:
  * logs "CONN path=... via=..." (the handshake as the origin saw it);
  * sends one text message "hello <path>" at once, so the first frame can
    travel in the same read as the 101 head;
  * echoes every message back as it came (text as text, binary as binary).
No compression, no keep-alive pings: the frames are exactly what the raw
client expects.
"""

import asyncio
import sys

import websockets


async def echo(ws):
    # websockets <= 13 (legacy API): ws.path, ws.request_headers;
    # 14 and later: ws.request.path, ws.request.headers
    req = getattr(ws, "request", None)
    path = req.path if req is not None else ws.path
    headers = req.headers if req is not None else ws.request_headers
    via = headers.get("Via", "-")
    print(f"CONN path={path} via={via}", file=sys.stderr, flush=True)
    await ws.send(f"hello {path}")
    async for msg in ws:
        await ws.send(msg)


async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, compression=None,
                                ping_interval=None, max_size=4 << 20,
                                close_timeout=5) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
