"""A script that calls the decorated handler N times, then ends in the way asked.

argv: N, then how the script ends: ``normal``, ``sys_exit`` (``sys.exit(3)``),
``crash`` (the last invocation raises and nothing catches it), ``freeze`` (after
each invocation the process stops itself with SIGSTOP, as Lambda freezes an
environment; the test looks at what arrived, then resumes it or kills it) or ``pause``
(halfway, the script waits for a line on stdin: the test changes the collector meanwhile;
then it ends normally) or ``flush`` (``fnlens.flush(10)``, then SIGSTOP until the test
has counted what arrived, then a normal end).
"""

from __future__ import annotations

import os
import signal
import sys

from noloss_driver import invoke, mark

n, how = int(sys.argv[1]), sys.argv[2]
for seq in range(n):
    last = seq == n - 1
    invoke(seq, crash=last and how == "crash")
    if how == "pause" and seq == n // 2 - 1:
        mark("half")
        sys.stdin.readline()
    if how == "freeze":
        mark("frozen", seq=seq)
        os.kill(os.getpid(), signal.SIGSTOP)
if how == "flush":
    import fnlens

    fnlens.flush(10.0)
    mark("flushed")
    os.kill(os.getpid(), signal.SIGSTOP)
mark("exiting")
if how == "sys_exit":
    sys.exit(3)
