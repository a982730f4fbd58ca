"""Runs a coroutine to completion from synchronous tests, whatever else the thread holds.

Playwright's sync API leaves an event loop running in the main thread, so `asyncio.run` there
would fail in a session that ran browser tests first; a thread of its own always has none.
"""

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout)
