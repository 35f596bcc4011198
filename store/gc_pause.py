"""A pause of the cyclic garbage collector, for code that makes many objects at once.

It lives in the store because the store is where bulk reads decode rows (``store.index``),
and the projections borrow it where they fold a bulk read into long-lived objects
(``projections.service``). It is process-wide on purpose: the collector is.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_gc_lock = threading.Lock()
_gc_pausers = 0


@contextmanager
def paused_gc(pause: bool = True) -> Iterator[None]:
    """Hold off the cyclic garbage collector while many objects are made at once.

    Decoding 100,000 events makes millions of live objects; each collection the
    allocations trigger walks all of them again, which made bulk reads 5x slower. The
    records hold no reference cycles, so reference counting frees them all the same.
    Nested and concurrent pauses count: the collector resumes when the last one ends.
    """
    global _gc_pausers
    if not pause:
        yield
        return
    with _gc_lock:
        _gc_pausers += 1
        if _gc_pausers == 1:
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0:
                gc.enable()

