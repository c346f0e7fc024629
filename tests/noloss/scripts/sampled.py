"""N invocations with an incoming W3C ``traceparent`` chosen per invocation.

argv: N, parent: ``none``, or ``mixed`` (even invocations carry a sampled parent,
odd ones an unsampled parent). The ledger's ``sent`` entries hold the header sent."""

from __future__ import annotations

import os
import sys

from noloss_driver import invoke, mark

n, parent = int(sys.argv[1]), sys.argv[2]
for seq in range(n):
    headers = None
    if parent == "mixed":
        flags = "01" if seq % 2 == 0 else "00"
        headers = {"traceparent": f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-{flags}"}
    invoke(seq, headers=headers)
mark("exiting")
