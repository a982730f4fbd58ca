"""How many malloc arenas the web process keeps: two, where glibc would make up to 8 per core.

glibc gives each new thread an arena of its own and keeps what is freed in each for reuse
there. The web's threads (the thread pool that runs sync dependencies and every stream's
opening snapshot) make short-lived allocations, freed later by the event loop, spread over up
to 16 arenas on two cores; memory freed in one is not reused by another. After 10,000 event
stream connections had come and gone, the web's RSS stood 5-11% above its start while Python's
own heap had grown by under 1 MB (tracemalloc), and malloc_trim gave all of it back: memory
free but held. With two arenas, the web's RSS after those cycles fell from about 142 to 134
MiB (`python -m bench.connections`; the commit that added this module has the runs).

An operator's own MALLOC_ARENA_MAX wins: glibc has read it at start, and it is left alone.
Elsewhere than glibc (musl, macOS) this does nothing.
"""

import ctypes
import logging
import os

ARENAS = 2
ENVIRONMENT_NAME = "MALLOC_ARENA_MAX"
# mallopt's parameter number for the arena limit (malloc.h: #define M_ARENA_MAX -8).
M_ARENA_MAX = -8

log = logging.getLogger(__name__)


def limit_malloc_arenas() -> bool:
    """Limits this process, from now on, and the processes it starts; False when it cannot
    (not glibc) or need not (the operator chose a limit)."""
    if ENVIRONMENT_NAME in os.environ or not _glibc():
        return False
    # Threads started after this (uvicorn's, the thread pool) get no arena beyond the limit.
    # The process's own symbols hold libc's: nothing to look up (find_library runs ldconfig).
    if ctypes.CDLL(None).mallopt(M_ARENA_MAX, ARENAS) != 1:
        log.warning("mallopt(M_ARENA_MAX, %d) was refused", ARENAS)
        return False
    # uvicorn's worker processes (WEB_CONCURRENCY > 1) are new interpreters: glibc reads this.
    os.environ[ENVIRONMENT_NAME] = str(ARENAS)
    return True


def _glibc() -> bool:
    """Asked of the C library itself: platform.libc_ver() would read the Python binary."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):  # a name this system does not know: not glibc
        return False
