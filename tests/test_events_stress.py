"""Stress for live events, with every event accounted for.

Each round runs a scenario per transport (SSE, WebSocket) and per mode
(blocking iteration on a thread, ``async for`` with reads cancelled at
random moments), with busy processes competing for every core:

* a writer puts events into two contexts, A and B, from before the
  subscription is made until after the last change; a reader takes them;
* the subscription (to A) is made, and context B subscribed, unsubscribed
  and subscribed again, each after some more events were written, while
  events flow;
* the node cuts the stream once (``/_testnode/events/drop``), so the
  subscription reconnects while events flow;
* a last event (the sentinel) ends the scenario; the subscription closes.

The test node numbers every event it emits (``GET /_testnode/events``), so
each event the reader got is matched to its number, and each emitted event
is classed, from watermarks (the next number, read before and after each
change) and the order of the stream, as one the reader must get, may get
(emitted while a subscription changed or the stream was cut: the node
checks subscriptions as its stream reads an event, and replays nothing
after a cut) or should not get. Then:

* lost: an event it must get and did not; must be 0;
* duplicated: an event it got more than once; must be 0;
* out of order: events got in another order than the node's; must be 0;
* unknown: something got that the node never emitted; must be 0;
* not delivered by design: events emitted during a cut or a change, not
  got (reported);
* extra: events got although emitted just before their context was
  subscribed (reported).

The default run is short (``test_events_stress``); ``-m slow`` runs the long
one (``STRESS_ROUNDS``, ``STRESS_SEED``). The figures are printed (``-s``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import calimero
from conftest import make_wasm
from testnode import TestNode

#: Generous: only a broken feature waits this long.
WAIT = 30.0
INF = float("inf")


@pytest.fixture
def cpu_load() -> Iterator[int]:
    """One busy process per core (and at least two), for the test's duration."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(max(2, cores or 2))
    ]
    try:
        yield len(hogs)
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


def key_of(event: dict[str, Any]) -> str | None:
    """The key a ``set`` wrote, from its StateMutation."""
    if event.get("type") != "StateMutation":
        return None
    (inserted,) = event["data"]["events"]
    return str(json.loads(bytes(inserted["data"]))["key"])


def fingerprint(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True)


@dataclass
class Window:
    """Events of `context` (None: any) numbered lo <= seq < hi."""

    context: str | None
    lo: float
    hi: float


@dataclass
class Plan:
    """What one subscription was asked to do, and what it got."""

    #: (subscribe?, context, lo, hi): watermarks read before the call and
    #: after it returned.
    changes: list[tuple[bool, str, int, int]] = field(default_factory=list)
    got: list[dict[str, Any]] = field(default_factory=list)
    #: For each cut of the stream: the watermarks read before the cut and
    #: once the subscription was back (its reconnect counter went up).
    cuts: list[tuple[int, int]] = field(default_factory=list)

    def subscribed(self, context: str, lo: int, hi: int) -> None:
        self.changes.append((True, context, lo, hi))

    def unsubscribed(self, context: str, lo: int, hi: int) -> None:
        self.changes.append((False, context, lo, hi))

    def windows(self, context: str, got: list[int]) -> tuple[list[Window], list[Window]]:
        """The events of `context` it must get and may get, given the
        numbers of those it got (`got`, in order).

        A stream checks what is subscribed when it reads an event from the
        node's bus, a little after the event was emitted: an event emitted
        just before a subscribe may come, one emitted just before an
        unsubscribe may not. But it reads in order: from the first event it
        delivers after a subscribe, it delivers all; up to the last it
        delivers before an unsubscribe, it delivered all.
        """
        must: list[Window] = []
        may: list[Window] = []
        start: float | None = None
        for subscribe, c, lo, hi in self.changes:
            if c != context:
                continue
            if subscribe:
                first = min((q for q in got if q >= lo), default=INF)
                start = min(first, hi)
                may.append(Window(c, lo, start))
            elif start is not None:
                last = max((q for q in got if start <= q < hi), default=start - 1)
                must.append(Window(c, start, last + 1))
                may.append(Window(c, last + 1, hi))
                start = None
        if start is not None:
            must.append(Window(context, start, INF))
        return must, may


@dataclass
class Figures:
    rounds: int = 0
    scenarios: int = 0
    emitted: int = 0
    must: int = 0
    received: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    unknown: int = 0
    not_delivered: int = 0
    extra: int = 0
    reconnects: int = 0
    cancelled_reads: int = 0
    lagged: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.rounds} rounds, {self.scenarios} scenarios: {self.emitted} events emitted, "
            f"{self.must} owed to a reader, {self.received} received; lost {self.lost}, "
            f"duplicated {self.duplicated}, out of order {self.out_of_order}, "
            f"unknown {self.unknown}; not delivered by design (cut or changing) "
            f"{self.not_delivered}, extra (emitted just before a subscribe) {self.extra}; "
            f"{self.reconnects} reconnects, "
            f"{self.cancelled_reads} cancelled reads, {self.lagged} skipped by slow streams"
        )


class Scenario:
    """One subscription's run: the writers, the changes and the reader."""

    def __init__(
        self,
        node: TestNode,
        contexts: tuple[str, str],
        writes: int,
        tag: str,
        rng: random.Random,
    ) -> None:
        self.node = node
        self.a, self.b = contexts
        self.writes = writes
        self.tag = tag
        self.rng = rng
        self.plan = Plan()
        self.sentinel = f"{tag}-end"
        self.tails = 0
        self.start = self.watermark()
        self.cancelled_reads = 0

    def watermark(self) -> int:
        return int(self.node.control("GET", "events?since=999999999999")["next"])

    def key(self, n: int) -> str:
        return f"{self.tag}-{n}"

    def target(self) -> str:
        return self.a if self.rng.random() < 0.5 else self.b

    def saw(self, event: dict[str, Any]) -> bool:
        """Records an event; True once the sentinel, or an event written
        after it, came (the reader is done: everything before is in)."""
        self.plan.got.append(event)
        key = key_of(event)
        return key is not None and key.startswith(self.sentinel)

    def cut(self, sub: calimero.Subscription) -> None:
        """Cuts the stream; returns once the subscription is back."""
        before = sub.reconnects
        lo = self.watermark()
        self.node.control("POST", "events/drop")
        deadline = time.monotonic() + WAIT
        while sub.reconnects == before:
            assert time.monotonic() < deadline, "no reconnect"
            time.sleep(0.005)
        self.plan.cuts.append((lo, self.watermark()))

    def account(self, figures: Figures) -> None:
        log = self.node.control("GET", f"events?since={self.start - 1}")
        figures.lagged += int(log["lagged"])
        numbered = {}
        for entry in log["events"]:
            fp = fingerprint(entry["event"])
            assert fp not in numbered, "two emitted events look the same"
            numbered[fp] = (entry["seq"], entry["event"])
        plan = self.plan
        seqs: list[int] = []
        last_before: list[int] = []
        for event in plan.got:
            if event.get("type") == "reconnected":
                last_before.append(max(seqs, default=self.start - 1))
                continue
            match = numbered.get(fingerprint(event))
            if match is None:
                figures.unknown += 1
                figures.problems.append(f"{self.tag}: unknown event {event}")
                continue
            seqs.append(match[0])
        ends = [e["seq"] for e in log["events"] if key_of(e["event"]) == self.sentinel]
        end = ends[0] if ends else max(seqs, default=self.start)
        seqs = [seq for seq in seqs if seq <= end]
        figures.received += len(seqs)
        figures.reconnects += len(last_before)
        if len(last_before) > len(plan.cuts):
            figures.problems.append(f"{self.tag}: a reconnect without a cut")
        # The node cut the stream: what it emitted after the last event read
        # before the cut, until the subscription was back, may be missing.
        may: list[Window] = []
        for i, (lo, hi) in enumerate(plan.cuts):
            if i < len(last_before):
                may.append(Window(None, last_before[i] + 1, hi))
            else:
                figures.lost += 1
                figures.problems.append(f"{self.tag}: lost the reconnect marker")
                may.append(Window(None, lo, hi))
        counts: dict[int, int] = {}
        for seq in seqs:
            counts[seq] = counts.get(seq, 0) + 1
        figures.duplicated += sum(n - 1 for n in counts.values())
        figures.out_of_order += sum(1 for x, y in zip(seqs, seqs[1:]) if y <= x)
        context_of = {e["seq"]: e["event"].get("contextId") for e in log["events"]}
        must: list[Window] = []
        for context in {c for _, c, _, _ in plan.changes}:
            got = [q for q in seqs if context_of.get(q) == context]
            more_must, more_may = plan.windows(context, got)
            must += more_must
            may += more_may

        def within(windows: list[Window], context: str, seq: int) -> bool:
            return any(
                (w.context is None or w.context == context) and w.lo <= seq < w.hi for w in windows
            )

        for entry in log["events"]:
            seq, event = entry["seq"], entry["event"]
            if seq > end:
                break  # after the sentinel: not this reader's
            figures.emitted += 1
            context = event.get("contextId")
            if within(may, context, seq):
                if seq not in counts:
                    figures.not_delivered += 1
            elif within(must, context, seq):
                figures.must += 1
                if seq not in counts:
                    figures.lost += 1
                    figures.problems.append(f"{self.tag}: lost #{seq} {key_of(event)}")
            elif seq in counts:
                figures.extra += 1
        figures.cancelled_reads += self.cancelled_reads
        figures.scenarios += 1


# ------------------------------------------------------------------ blocking


def run_sync(scenario: Scenario, client: calimero.Client, transport: str) -> None:
    """A writer thread, a reader thread iterating ``for event in sub``, and
    the changes made from this thread."""
    s = scenario
    flowing = threading.Event()
    flowing.set()
    written = 0
    progress = threading.Condition()
    failure: list[BaseException] = []

    stop = threading.Event()
    step = max(1, s.writes // 6)

    def writer() -> None:
        nonlocal written
        try:
            while not stop.is_set():
                assert flowing.wait(WAIT)
                client.call(s.target(), "set", {"key": s.key(written), "value": "v"})
                with progress:
                    written += 1
                    progress.notify_all()
                if s.rng.random() < 0.2:
                    time.sleep(s.rng.random() / 500)
        except BaseException as exc:
            failure.append(exc)
            stop.set()
            with progress:
                progress.notify_all()

    def more() -> None:
        """Returns once `step` more events were written: each change is
        made while events flow."""
        with progress:
            target = written + step
            assert progress.wait_for(lambda: written >= target or stop.is_set(), WAIT)

    writing = threading.Thread(target=writer)
    writing.start()
    sub: calimero.Subscription | None = None
    reading: threading.Thread | None = None
    try:
        # Subscribed while events flow.
        more()
        lo = s.watermark()
        sub = client.subscribe(s.a, transport=transport)
        s.plan.subscribed(s.a, lo, s.watermark())

        def reader() -> None:
            assert sub is not None
            try:
                for event in sub:
                    if s.saw(event):
                        return
            except BaseException as exc:
                failure.append(exc)

        reading = threading.Thread(target=reader)
        reading.start()
        more()
        lo = s.watermark()
        sub.subscribe(s.b)
        s.plan.subscribed(s.b, lo, s.watermark())
        more()
        flowing.clear()
        s.cut(sub)
        flowing.set()
        more()
        lo = s.watermark()
        sub.unsubscribe(s.b)
        s.plan.unsubscribed(s.b, lo, s.watermark())
        more()
        lo = s.watermark()
        sub.subscribe(s.b)
        s.plan.subscribed(s.b, lo, s.watermark())
        more()
        stop.set()
        writing.join(WAIT)
        client.call(s.a, "set", {"key": s.sentinel, "value": "v"})
        # More events after the sentinel, so that a lost sentinel is seen
        # as lost at once rather than waited for.
        deadline = time.monotonic() + WAIT
        reading.join(0.05)
        while reading.is_alive():
            assert time.monotonic() < deadline, "nothing came after the last event"
            s.tails += 1
            client.call(s.a, "set", {"key": f"{s.sentinel}-{s.tails}", "value": "v"})
            reading.join(0.05)
    finally:
        stop.set()
        flowing.set()
        if sub is not None:
            sub.close()
        for t in (writing, reading):
            if t is not None:
                t.join(WAIT)
    if failure:
        raise failure[0]


# --------------------------------------------------------------------- async


async def run_async(scenario: Scenario, client: calimero.AsyncClient, transport: str) -> None:
    """A writer task, a reader task whose reads time out (are cancelled)
    at random moments, and the changes made from this task."""
    s = scenario
    flowing = asyncio.Event()
    flowing.set()
    written = 0
    progress = asyncio.Condition()
    # Reads time out after one of these (seconds): many are cancelled while
    # an event is on its way, some before they even started (0).
    timeouts = [0, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.02]

    async def watermark() -> int:
        return await asyncio.to_thread(s.watermark)

    stop = False
    step = max(1, s.writes // 6)

    async def writer() -> None:
        nonlocal written
        while not stop:
            await flowing.wait()
            await client.call(s.target(), "set", {"key": s.key(written), "value": "v"})
            async with progress:
                written += 1
                progress.notify_all()
            if s.rng.random() < 0.2:
                await asyncio.sleep(s.rng.random() / 500)

    async def more() -> None:
        """Returns once `step` more events were written: each change is
        made while events flow."""
        async with progress:
            target = written + step
            await asyncio.wait_for(progress.wait_for(lambda: written >= target), WAIT)

    async def reader(sub: calimero.Subscription) -> None:
        while True:
            try:
                event = await asyncio.wait_for(sub.__anext__(), s.rng.choice(timeouts))
            except asyncio.TimeoutError:
                s.cancelled_reads += 1
                continue
            if s.saw(event):
                return

    async def changes(sub: calimero.Subscription, reading: asyncio.Future[None]) -> None:
        nonlocal stop
        await more()
        lo = await watermark()
        await sub.asubscribe(s.b)
        s.plan.subscribed(s.b, lo, await watermark())
        await more()
        flowing.clear()
        await asyncio.to_thread(s.cut, sub)
        flowing.set()
        await more()
        lo = await watermark()
        await sub.aunsubscribe(s.b)
        s.plan.unsubscribed(s.b, lo, await watermark())
        await more()
        lo = await watermark()
        await sub.asubscribe(s.b)
        s.plan.subscribed(s.b, lo, await watermark())
        await more()
        stop = True
        await writing
        await client.call(s.a, "set", {"key": s.sentinel, "value": "v"})
        # More events after the sentinel, so that a lost sentinel is seen
        # as lost at once rather than waited for.
        done, _ = await asyncio.wait({reading}, timeout=0.05)
        while not done:
            s.tails += 1
            await client.call(s.a, "set", {"key": f"{s.sentinel}-{s.tails}", "value": "v"})
            done, _ = await asyncio.wait({reading}, timeout=0.05)

    writing = asyncio.ensure_future(writer())
    sub: calimero.Subscription | None = None
    reading: asyncio.Future[None] | None = None
    try:
        # Subscribed while events flow.
        await more()
        lo = await watermark()
        sub = await client.subscribe(s.a, transport=transport)
        s.plan.subscribed(s.a, lo, await watermark())
        reading = asyncio.ensure_future(reader(sub))
        await asyncio.wait_for(changes(sub, reading), 4 * WAIT)
        await reading
    finally:
        stop = True
        flowing.set()
        for task in (writing, reading):
            if task is not None:
                task.cancel()
        if sub is not None:
            await sub.aclose()


# ---------------------------------------------------------------------- test


def stress(node: TestNode, wasm: Path, rounds: int, writes: int, seed: int) -> Figures:
    """`rounds` rounds of the four scenarios, about `writes` events each."""
    conn = calimero.create_connection(node.url)
    client = calimero.create_client(conn)
    aclient = calimero.create_async_client(conn)
    app = client.install_dev_application(str(wasm))["data"]["applicationId"]
    ns = client.create_namespace(app)["data"]["namespaceId"]
    a, b = (client.create_context(app, ns)["data"]["contextId"] for _ in range(2))
    rng = random.Random(seed)
    figures = Figures()
    for r in range(rounds):
        for transport in ("sse", "ws"):
            for mode in ("sync", "async"):
                tag = f"r{r}-{transport}-{mode}"
                scenario = Scenario(node, (a, b), writes, tag, rng)
                if mode == "sync":
                    run_sync(scenario, client, transport)
                else:
                    asyncio.run(run_async(scenario, aclient, transport))
                scenario.account(figures)
        figures.rounds += 1
    return figures


def check(figures: Figures) -> None:
    print(f"\nevents stress: {figures.line()}")
    assert figures.problems == [], figures.problems[:10]
    assert figures.lost == 0
    assert figures.duplicated == 0
    assert figures.out_of_order == 0
    assert figures.unknown == 0
    assert figures.must > 0 and figures.cancelled_reads > 0 and figures.reconnects > 0


SEED = int(os.environ.get("STRESS_SEED", "1"))


def test_events_stress(node: TestNode, tmp_path: Path, cpu_load: int) -> None:
    check(stress(node, make_wasm(tmp_path), rounds=2, writes=60, seed=SEED))


@pytest.mark.slow
def test_events_stress_long(node: TestNode, tmp_path: Path, cpu_load: int) -> None:
    rounds = int(os.environ.get("STRESS_ROUNDS", "30"))
    check(stress(node, make_wasm(tmp_path), rounds=rounds, writes=200, seed=SEED))
