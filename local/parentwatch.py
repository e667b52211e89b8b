"""Every process of the local stack ends with the process that started it, even one killed with SIGKILL.

Imported by `local up` as local.parentwatch, and by local/runner.py (run as a script) by file name.
"""

from __future__ import annotations

import os
import signal
import threading
import time

POLL_SECONDS = 0.5


def exit_with_parent() -> None:
    """A watchdog thread: when the parent is gone, this process gets SIGTERM (its handler stops it cleanly)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()
