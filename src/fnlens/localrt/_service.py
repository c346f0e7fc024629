"""A local Lambda service: functions, versions, weighted aliases and environment pools.

Invoking picks the version (an alias may split traffic between two versions, as
Lambda's ``RoutingConfig`` does for canaries), then an idle environment of that
version, or starts a new one: that invocation is a cold start. Environments
idle for longer than ``max_idle_s`` are shut down, like Lambda reclaims them.

An environment whose extensions are still working after the response stays busy
(the caller already has its result): an invocation arriving meanwhile goes to
another environment, or starts one, as in Lambda.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnlens.exceptions import SnapshotFailedError
from fnlens.localrt import _snapshot as snapshot
from fnlens.localrt._environment import (
    INIT_TIMEOUT_S,
    Environment,
    InvocationResult,
    RuntimeOptions,
)
from fnlens.localrt._function import FunctionCode
from fnlens.localrt._ids import function_arn, new_request_id, new_trace_header
from fnlens.localrt._logstream import Echo
from fnlens.localrt._managed import ManagedEnvironment
from fnlens.localrt._process_role import ProcessRole
from fnlens.localrt._snapshot import Snapshot

LATEST = "$LATEST"
SNAP_START = "snap-start"


@dataclass(frozen=True)
class Alias:
    """``name`` points at ``version``; ``additional_version`` gets ``weight`` of the traffic."""

    name: str
    version: str
    additional_version: str | None = None
    weight: float = 0.0


class LocalLambda:
    """One function with its versions, aliases and execution environments."""

    def __init__(
        self,
        function_name: str,
        *,
        out_dir: str | Path | None = None,
        echo: Echo | None = None,
        timestamps: bool = True,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        max_idle_s: float | None = None,
        seed: int | None = None,
        managed_instances: int | None = None,
    ) -> None:
        self.options = RuntimeOptions(
            function_name=function_name,
            region=region,
            account_id=account_id,
            out_dir=Path(out_dir) if out_dir is not None else None,
            echo=echo,
            timestamps=timestamps,
        )
        self.max_idle_s = max_idle_s
        if managed_instances is not None and managed_instances < 1:
            raise ValueError(f"managed_instances must be >= 1, got {managed_instances}")
        # Lambda Managed Instances: N runtime processes per environment, concurrent invokes
        self.managed_instances = managed_instances
        self._managed: dict[str, list[ManagedEnvironment]] = {}
        self._retired_managed: list[ManagedEnvironment] = []  # finishing on old code
        # SnapStart: per published version, one environment initialised and snapshotted
        # ahead of need (Lambda snapshots at publish time); a new environment restores it
        # (where fork is available: one template process, forked per restore)
        self._snapshots: dict[str, Environment | Snapshot] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._versions: dict[str, FunctionCode] = {}
        self._aliases: dict[str, Alias] = {}
        self._idle: dict[str, list[Environment]] = {}
        self._busy: set[Environment] = set()
        self._next_version = 1
        self.environments_started = 0

    @property
    def name(self) -> str:
        return self.options.function_name

    # deployment ------------------------------------------------------------------
    def update_code(self, code: FunctionCode) -> None:
        """Set ``$LATEST``; its idle environments are retired (new code, new environments)."""
        with self._lock:
            self._versions[LATEST] = code
            retired = self._idle.pop(LATEST, [])
            retired_managed = self._managed.pop(LATEST, [])
        for env in retired:
            env.close()
        for managed in retired_managed:
            managed.retire()  # invocations under way finish on the old code
        with self._lock:
            self._retired_managed = [e for e in self._retired_managed if e.alive]
            self._retired_managed += [e for e in retired_managed if e.alive]

    def publish_version(self, code: FunctionCode | None = None) -> str:
        """Freeze ``code`` (or ``$LATEST``) as the next numbered version; returns its number."""
        with self._lock:
            if code is None:
                if LATEST not in self._versions:
                    raise ValueError("nothing to publish: no code for $LATEST")
                code = self._versions[LATEST]
            version = str(self._next_version)
            self._next_version += 1
            self._versions[version] = code
            if code.snap_start:
                self._snapshots[version] = self._snap_environment(version, code)
        return version

    def _snap_environment(self, version: str, code: FunctionCode) -> Environment | Snapshot:
        """A version's snapshot: a template process to fork, or (without fork) an
        environment initialised ahead and parked until its restore."""
        if snapshot.supported():
            snap = Snapshot(version, code, self.options, Environment)
            # as Lambda's publish, which returns once the snapshot is taken (a failed
            # init shows at the first invoke, as the error of that version)
            try:
                snap.wait_ready(INIT_TIMEOUT_S)
            except SnapshotFailedError:
                pass
            return snap
        role = ProcessRole(init_type=SNAP_START, snap_start=True)
        return Environment(version, code, self.options, process=role)

    def _new_environment(self, version: str, code: FunctionCode) -> Environment:
        """An on-demand environment, or, for a SnapStart version, the snapshot restored."""
        if not (code.snap_start and version != LATEST):
            return Environment(version, code, self.options)
        with self._lock:
            snap = self._snapshots.get(version)
            if isinstance(snap, Snapshot):
                failed = snap.template.api.init_error is not None
                if not snap.alive and not failed:  # the template was lost: take a new one
                    snap.close()
                    snap = self._snapshots[version] = self._snap_environment(version, code)
            else:  # no fork: this parked environment is used, the next one prepared
                self._snapshots.pop(version, None)
                self._snapshots[version] = self._snap_environment(version, code)
        if isinstance(snap, Snapshot):
            role = ProcessRole(init_type=SNAP_START, snap_start=True, restore_from=snap)
            return Environment(version, code, self.options, process=role)
        if snap is None or not snap.alive:
            role = ProcessRole(init_type=SNAP_START, snap_start=True)
            return Environment(version, code, self.options, process=role)
        return snap

    def create_alias(
        self,
        name: str,
        version: str,
        *,
        additional_version: str | None = None,
        weight: float = 0.0,
    ) -> Alias:
        """Create or update an alias; ``weight`` in [0, 1] goes to ``additional_version``."""
        if name == LATEST or name.isdigit():
            raise ValueError(f"alias name {name!r} looks like a version")
        for v in (version, additional_version):
            if v is not None and v not in self._versions:
                raise ValueError(f"unknown version {v!r}")
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be within [0, 1], got {weight}")
        alias = Alias(name, version, additional_version, weight if additional_version else 0.0)
        with self._lock:
            self._aliases[name] = alias
        return alias

    update_alias = create_alias

    def resolve(self, qualifier: str) -> str:
        """The version an invocation of ``qualifier`` runs (a weighted draw for aliases)."""
        alias = self._aliases.get(qualifier)
        if alias is None:
            if qualifier not in self._versions:
                raise KeyError(f"function {self.name} has no version or alias {qualifier!r}")
            return qualifier
        if alias.additional_version and self._rng.random() < alias.weight:
            return alias.additional_version
        return alias.version

    # invoke -------------------------------------------------------------------------
    def invoke(
        self,
        event: Any = None,
        qualifier: str = LATEST,
        *,
        trace_header: str | None = None,
        request_id: str | None = None,
    ) -> InvocationResult:
        """Invoke synchronously (``RequestResponse``); ``event`` is JSON-encoded unless bytes."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        version = self.resolve(qualifier)
        code = self._versions[version]
        trace_header = trace_header or new_trace_header(sampled=code.tracing == "Active")
        arn_qualifier = qualifier if qualifier != LATEST else None
        arn = function_arn(
            self.options.region, self.options.account_id, self.name, arn_qualifier or LATEST
        )
        with self._environment(version, code) as env:
            return env.invoke(
                body,
                request_id=request_id or new_request_id(),
                function_arn=arn,
                qualifier=qualifier,
                trace_header=trace_header,
            )

    @contextmanager
    def _environment(self, version: str, code: FunctionCode) -> Iterator[Environment]:
        if self.managed_instances is not None:
            with self._managed_process(version, code) as proc:
                yield proc
            return
        self._reap_idle()
        with self._lock:
            pool = self._idle.setdefault(version, [])
            env = None
            while pool:
                candidate = pool.pop()  # most recently used first
                if candidate.alive:
                    env = candidate
                    break
                candidate.close()
        if env is None:
            env = self._new_environment(version, code)
            with self._lock:
                self.environments_started += 1
        with self._lock:
            self._busy.add(env)
        try:
            yield env
        finally:
            # busy until the invoke phase is over (extensions may work after the response)
            env.when_settled(lambda: self._release(env, version, code))

    @contextmanager
    def _managed_process(self, version: str, code: FunctionCode) -> Iterator[Environment]:
        """A free process of a managed-instances environment of ``version``; a new
        environment when every process of every one is busy (Lambda routes to the
        environments with capacity and scales out when there is none)."""
        with self._lock:
            pool = self._managed.setdefault(version, [])
            for dead in [e for e in pool if not e.alive]:
                pool.remove(dead)
                dead.close()
            found = next(((e, p) for e in pool if (p := e.acquire()) is not None), None)
            if found is None:
                env = ManagedEnvironment(version, code, self.options, self.managed_instances or 1)
                pool.append(env)
                self.environments_started += 1
                proc = env.acquire()
                if proc is None:  # every process died at once
                    raise RuntimeError(f"{env.id}: no runtime process started")
                found = (env, proc)
        env, proc = found
        try:
            yield proc
        finally:
            proc.when_settled(lambda: env.release(proc))

    def managed_environments(self) -> list[ManagedEnvironment]:
        """Every live Lambda Managed Instances environment."""
        with self._lock:
            return [e for pool in self._managed.values() for e in pool if e.alive]

    def _release(self, env: Environment, version: str, code: FunctionCode) -> None:
        with self._lock:
            self._busy.discard(env)
            if env.alive and self._versions.get(version) is code:
                self._idle.setdefault(version, []).append(env)
                return
        env.close()

    def _reap_idle(self) -> None:
        if self.max_idle_s is None:
            return
        now = time.monotonic()
        stale: list[Environment] = []
        with self._lock:
            for version, pool in self._idle.items():
                keep = [e for e in pool if now - e.last_used <= self.max_idle_s]
                stale.extend(e for e in pool if now - e.last_used > self.max_idle_s)
                self._idle[version] = keep
        for env in stale:
            env.close()

    # inspection and shutdown ----------------------------------------------------------
    def environments(self) -> list[Environment]:
        """Every live environment, idle or busy (under Managed Instances: every live
        runtime process, see :meth:`managed_environments` for the environments)."""
        with self._lock:
            idle = [e for pool in self._idle.values() for e in pool]
            managed = [p for pool in self._managed.values() for e in pool for p in e.processes]
            return [e for e in [*idle, *self._busy, *managed] if e.alive]

    def close(self) -> None:
        """Shut every environment down (SIGTERM, then SIGKILL after a grace period)."""
        with self._lock:
            envs: list[Environment | ManagedEnvironment] = [
                e for pool in self._idle.values() for e in pool
            ]
            envs += list(self._busy)
            envs += [e for pool in self._managed.values() for e in pool]
            envs += [e for e in self._snapshots.values() if isinstance(e, Environment)]
            envs += self._retired_managed
            snapshots = [s for s in self._snapshots.values() if isinstance(s, Snapshot)]
            self._retired_managed = []
            self._snapshots.clear()
            self._idle.clear()
            self._managed.clear()
        threads = [threading.Thread(target=e.close) for e in envs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10.0)
        for snap in snapshots:  # after their restored processes (the template reaps them)
            snap.close()

    def __enter__(self) -> LocalLambda:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
