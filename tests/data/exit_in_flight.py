"""Exits the interpreter while the client has work in flight: run as a
subprocess by tests/test_shutdown.py, many times over.

    python exit_in_flight.py NODE_URL CONTEXT_ID SLOW_ENDPOINT

``SLOW_ENDPOINT`` is a client method whose route the test node delays for
longer than the run. When the main thread ends, there are at once:

- async calls of the main thread's event loop, which ``asyncio.run``
  cancels (their completions run on the client's runtime threads);
- a daemon thread's event loop making async calls without pause, with an
  async subscription of that loop waiting for events;
- a daemon thread making blocking calls without pause (writes: events for
  that subscription);
- a daemon thread in a blocking call of ``SLOW_ENDPOINT``, waking every
  50 ms to check for signals;
- core log lines going to a ``logging`` handler that writes to a file.

An object finalized with the module lets the GIL go for a moment, as the
finalizers of a real program do (closing a file, a socket), so the other
threads run while the interpreter finalizes.

It prints ``exiting`` just before the end of the script; the pass is that
line, exit code 0 and no "Fatal Python error".
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from typing import Any

import calimero

url, context_id, slow_endpoint = sys.argv[1], sys.argv[2], sys.argv[3]
logging.basicConfig(level=logging.DEBUG, stream=open(os.devnull, "w"))
conn = calimero.create_connection(url)
client = calimero.create_client(conn)
aclient = calimero.create_async_client(conn)
going = threading.Barrier(4, timeout=30)  # the three daemon threads and this one


def writes() -> None:
    i = 0
    while True:
        client.call(context_id, "set", {"key": f"w{i % 8}", "value": str(i)})
        if i == 0:
            going.wait()
        i += 1


def slow_call() -> None:
    call = getattr(client.with_options(timeout=60), slow_endpoint)
    threading.Timer(0.05, going.wait).start()  # the call is on its way by then
    call()


async def async_calls() -> None:
    async with await aclient.subscribe(context_id) as sub:

        async def read() -> None:
            async for _ in sub:
                pass

        reader = asyncio.create_task(read())
        await asyncio.gather(*(aclient.health() for _ in range(8)))
        going.wait()  # blocks this loop once, briefly
        while True:
            await asyncio.gather(*(aclient.health() for _ in range(8)))
        reader.cancel()  # never reached: the loop runs until the exit


async def main() -> None:
    pending = [asyncio.create_task(aclient.health()) for _ in range(16)]
    pending.append(asyncio.create_task(getattr(aclient, slow_endpoint)()))
    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    # Returns with the others in flight: asyncio.run cancels them.


class Finalizer:
    def __del__(self, sleep: Any = time.sleep) -> None:
        sleep(0.1)


finalizer = Finalizer()  # collected with this module, while finalizing

for target in (writes, slow_call, lambda: asyncio.run(async_calls())):
    threading.Thread(target=target, daemon=True).start()
going.wait()
asyncio.run(main())
print("exiting", flush=True)
