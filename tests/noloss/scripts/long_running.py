"""A process that never freezes (a container, a server): it serves N invocations from a
thread pool and from an asyncio loop at the same time, says it is done, and keeps
running until the test writes ``exit`` on its stdin; then it returns normally."""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from noloss_driver import invoke, invoke_async, mark

n = int(sys.argv[1])
threaded = list(range(0, n, 2))
awaited = list(range(1, n, 2))


async def serve_async() -> None:
    await asyncio.gather(*(invoke_async(seq) for seq in awaited))


loop_thread = threading.Thread(target=lambda: asyncio.run(serve_async()), name="asyncio")
loop_thread.start()
with ThreadPoolExecutor(4, thread_name_prefix="worker") as pool:
    list(pool.map(invoke, threaded))
loop_thread.join(60)
mark("served")
command = sys.stdin.readline().strip()
mark("exiting", command=command)
