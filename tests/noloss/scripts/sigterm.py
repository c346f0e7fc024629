"""N invocations, then the process waits (bounded) to be stopped with SIGTERM, whose
handler is left at its default: a supervisor stopping a container, or Lambda shutting
an environment down."""

from __future__ import annotations

import sys
import time

from noloss_driver import invoke, mark

n = int(sys.argv[1])
for seq in range(n):
    invoke(seq)
mark("ready")
time.sleep(60)
mark("not-terminated")
