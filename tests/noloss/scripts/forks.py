"""Children that serve invocations: ``os_fork`` (a pre-forking server's workers, which
end with ``sys.exit``), ``mp_fork`` and ``mp_spawn`` (multiprocessing start methods).

argv: K (invocations per process), mode. The parent serves K, flushes (so that its export
threads and connections exist before the fork), starts two children that serve K each,
then serves K more after they ended and exits normally."""

from __future__ import annotations

import multiprocessing
import os
import sys

from noloss_driver import invoke, mark

import fnlens


def serve(first: int, k: int) -> None:
    for seq in range(first, first + k):
        invoke(seq)
    mark("child-done", first=first)


def main() -> None:
    k, mode = int(sys.argv[1]), sys.argv[2]
    serve(0, k)
    fnlens.flush(5.0)
    if mode == "os_fork":
        pids = []
        for child in (1, 2):
            pid = os.fork()
            if pid == 0:
                serve(child * k, k)
                sys.exit(0)
            pids.append(pid)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    else:
        ctx = multiprocessing.get_context(mode.removeprefix("mp_"))
        procs = [ctx.Process(target=serve, args=(child * k, k)) for child in (1, 2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        codes = [p.exitcode for p in procs]
    mark("children", codes=codes)
    serve(3 * k, k)
    mark("exiting")


if __name__ == "__main__":
    main()
