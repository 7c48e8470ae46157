"""A deadline on one future, for code that runs outside any asyncio Task.

Packets run without a Task of their own (dhcpd/scheduler.py), so the packet
path cannot use asyncio.timeout (it needs asyncio.current_task()), nor
asyncio.wait_for from Python 3.12 on.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def within(future: asyncio.Future[Any], deadline: float) -> Any:
    """`await future`, cancelled at `deadline` (TimeoutError): asyncio.wait_for for a
    future, without the current task that asyncio.timeout (and wait_for since
    Python 3.12) needs."""
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = future.cancel()

    timer = future.get_loop().call_later(deadline, expire)
    try:
        return await future
    except asyncio.CancelledError:
        if expired:
            raise TimeoutError from None
        raise
    finally:
        timer.cancel()
