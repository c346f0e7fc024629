"""Lambda Managed Instances: several runtime processes, each serving several invocations
at once from threads; no process is ever frozen.

argv: processes, threads per process, invocations per process."""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ThreadPoolExecutor


def serve(first: int, threads: int, count: int) -> None:
    from noloss_driver import invoke, mark

    with ThreadPoolExecutor(threads, thread_name_prefix="lmi") as pool:
        list(pool.map(invoke, range(first, first + count)))
    mark("process-done", first=first)


def main() -> None:
    processes, threads, count = (int(x) for x in sys.argv[1:4])
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=serve, args=(p * count, threads, count)) for p in range(processes)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(90)
    from noloss_driver import mark

    mark("exiting", codes=[p.exitcode for p in procs])


if __name__ == "__main__":
    main()
