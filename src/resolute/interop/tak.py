"""The TAK listener: Cursor on Target over TCP (or TLS with client certificates) into the
observation intake.

Each connection's bytes go through an EventSplitter; each event is parsed and mapped (cot.py),
and the (observation dict, raw detail bytes) pairs are handed in batches to `sink(batch)`, a
synchronous callable run in a worker thread (asyncio.to_thread) so that the event loop keeps
reading. The lead engineer wires `sink` to the intake service; nothing here imports Django.

Parsing runs in a worker process (`parse_workers`, one by default on a machine with more than one
CPU) whenever a read brings many events (a burst), so that the listener's own process, bound by
one interpreter lock, spends its time on storing; a read of a few events is parsed inline, and if
the worker cannot start or dies, everything is parsed inline. Per connection the order of events
is kept either way.

What it promises
- Batches (group commit): a batch is due when it holds `batch_size` events, `flush_interval`
  seconds after its first event arrived, or when a connection closes; it goes to the sink as
  soon as one of the `max_in_flight` slots is free. While every slot is busy a due batch keeps
  taking what arrives, up to `batch_size`, so a burst is persisted in a few large transactions.
- Back-pressure: at most `max_in_flight` batches are with the sink. When the sink is slower than
  the senders, the batcher waits for a slot, the bounded queue between connections and batcher
  fills, connections stop reading, and TCP flow control slows the senders. Memory stays bounded
  (`queue_chunks` reads of at most `read_size` bytes, plus the batches).
- Nothing received is dropped silently: a batch whose sink call fails is retried `retries` times
  with doubling delays; if it still fails it is logged at ERROR, counted in stats["failed"] and
  kept in `dead_letter` (or handed to `on_dead_letter`). The sink must therefore be idempotent
  per client_id (the intake service is) and should raise only when nothing was stored.
- Bad input never closes a connection or costs the good events around it: malformed or unsafe
  XML, unusable events (stats["bad"]), oversized events (stats["oversized"]) and bytes between
  events that are not whitespace or XML declarations (stats["garbage_bytes"]) are counted and
  skipped. Events that are not reports (position updates, pings, chat) count as "skipped".

stats: received (complete event documents, plus an unfinished one at a connection's end),
persisted, skipped, bad, oversized, garbage_bytes, failed, connections. Once idle:
received == persisted + skipped + bad + failed.

TAK protocol v1 (protobuf after 0xBF) is not spoken: clients must send XML, as pytak does by
default and as ATAK does to a server that has not negotiated protobuf; protobuf bytes count as
garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl as ssl_module
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

from resolute.interop.cot import (
    DEFAULT_MAX_EVENT_BYTES,
    CotError,
    EventSplitter,
    parse_event,
    to_observation,
)

__all__ = ["Batch", "TakListener", "bench", "bench_events", "pytak_burst", "tls_context"]

logger = logging.getLogger(__name__)

Batch = list[tuple[dict, bytes]]

_FLUSH = object()  # queue marker: flush what the batcher holds now
_STOP = object()  # queue marker: flush and stop


def tls_context(certfile: str, keyfile: str, client_cafile: str) -> ssl_module.SSLContext:
    """A server TLS context that requires a client certificate issued by `client_cafile`
    (TLS 1.2 or later), as TAK servers do on port 8089."""
    ctx = ssl_module.SSLContext(ssl_module.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl_module.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl_module.CERT_REQUIRED
    ctx.load_cert_chain(certfile, keyfile)
    ctx.load_verify_locations(cafile=client_cafile)
    return ctx


class TakListener:
    """An asyncio CoT server. `start()` binds and returns the port (0 picks a free one),
    `serve_forever()` runs until cancelled, `close()` stops accepting, lets connections finish
    (up to `grace` seconds), and hands everything received to the sink before returning.

    max_in_flight: batches with the sink at once (None: the sink's `max_in_flight` attribute,
    else 2). Units: flush_interval, retry_delay and grace in seconds; max_event_bytes and read_size in
    bytes; batch_size and parse_offload_min in events; queue_chunks in reads. parse_workers:
    processes that parse bursts (None: one if the machine has more than one CPU; 0: none).
    """

    def __init__(
        self,
        sink: Callable[[Batch], None],
        *,
        source_code: str,
        marking: Mapping | None = None,
        host: str = "127.0.0.1",
        port: int = 8087,
        ssl: ssl_module.SSLContext | None = None,
        channel: str | None = None,
        batch_size: int = 2000,
        flush_interval: float = 0.05,
        max_in_flight: int | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        read_size: int = 64 * 1024,
        queue_chunks: int = 64,
        retries: int = 5,
        retry_delay: float = 0.2,
        on_dead_letter: Callable[[Batch, BaseException], None] | None = None,
        parse_workers: int | None = None,
        parse_offload_min: int = 32,
    ):
        if max_in_flight is None:
            # A sink may say how many batches it can usefully take at once (one, for a database
            # with a single writer); two otherwise, so that one is prepared while one is stored.
            max_in_flight = getattr(sink, "max_in_flight", 2)
        if batch_size < 1 or max_in_flight < 1 or queue_chunks < 1:
            raise ValueError("batch_size, max_in_flight and queue_chunks must be at least 1")
        if parse_workers is None:
            parse_workers = 1 if (os.cpu_count() or 1) > 1 else 0
        self.sink = sink
        self.source_code = source_code
        self.marking = dict(marking) if marking is not None else None
        self.host = host
        self.port = port
        self.ssl = ssl
        self.channel = channel
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_in_flight = max_in_flight
        self.max_event_bytes = max_event_bytes
        self.read_size = read_size
        self.queue_chunks = queue_chunks
        self.retries = retries
        self.retry_delay = retry_delay
        self.on_dead_letter = on_dead_letter
        self.parse_workers = parse_workers
        self.parse_offload_min = parse_offload_min
        self.stats = dict.fromkeys(
            ("received", "persisted", "skipped", "bad", "oversized", "garbage_bytes", "failed", "connections"), 0
        )
        self.dead_letter: list[Batch] = []
        self._server: asyncio.Server | None = None
        self._queue: asyncio.Queue | None = None
        self._slots: asyncio.Semaphore | None = None
        self._batcher: asyncio.Task | None = None
        self._connections: set[asyncio.Task] = set()
        self._deliveries: set[asyncio.Task] = set()
        self._orphans: Batch = []
        self._closed = False
        self._pool: ProcessPoolExecutor | None = None

    # ------------------------------------------------------------------------ lifecycle

    async def start(self) -> int:
        """Bind and start accepting; returns the bound port."""
        if self._server is not None:
            return self.port
        self._queue = asyncio.Queue(self.queue_chunks)
        self._slots = asyncio.Semaphore(self.max_in_flight)
        if self.parse_workers:
            await self._start_parse_workers()
        self._batcher = asyncio.create_task(self._run_batcher(), name="tak-batcher")
        self._server = await asyncio.start_server(
            self._on_connection, self.host, self.port, ssl=self.ssl, limit=self.read_size
        )
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("TAK listener on %s:%d (%s)", self.host, self.port, "TLS" if self.ssl else "TCP")
        return self.port

    async def serve_forever(self) -> None:
        """Serve until cancelled; then close (which flushes)."""
        await self.start()
        try:
            await self._server.serve_forever()
        finally:
            await self.close()

    async def close(self, grace: float = 5.0) -> None:
        """Stop accepting, wait up to `grace` seconds for connections to end (then cut them),
        flush everything received and wait until the sink has it."""
        if self._closed or self._server is None:
            return
        self._closed = True
        self._server.close()
        if self._connections:
            _, late = await asyncio.wait(set(self._connections), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        # FIFO: everything the connections queued is batched before the stop marker.
        await self._queue.put(_STOP)
        await self._batcher
        if self._orphans:
            orphans, self._orphans = self._orphans, []
            for i in range(0, len(orphans), self.batch_size):
                await self._dispatch(orphans[i : i + self.batch_size])
        while self._deliveries:
            await asyncio.gather(*set(self._deliveries), return_exceptions=True)
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)
        with contextlib.suppress(Exception):
            await self._server.wait_closed()
        logger.info("TAK listener closed: %s", self.stats)

    # ---------------------------------------------------------------------- connections

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        self.stats["connections"] += 1
        peer = writer.get_extra_info("peername")
        splitter = EventSplitter(self.max_event_bytes)
        garbage = oversized = 0
        try:
            while True:
                try:
                    data = await reader.read(self.read_size)
                except OSError as exc:  # reset, TLS error: keep what was read
                    logger.info("TAK connection %s ended: %r", peer, exc)
                    break
                if not data:
                    break
                documents = splitter.feed(data)
                if splitter.garbage_bytes != garbage or splitter.oversized != oversized:
                    self.stats["garbage_bytes"] += splitter.garbage_bytes - garbage
                    self.stats["oversized"] += splitter.oversized - oversized
                    garbage, oversized = splitter.garbage_bytes, splitter.oversized
                if not documents:
                    continue
                items = await self._map(documents, peer)
                if items:
                    try:
                        # Blocks while the queue is full: this connection stops reading.
                        await self._queue.put(items)
                    except asyncio.CancelledError:
                        self._orphans.extend(items)
                        raise
        finally:
            if splitter.pending:
                # An event cut off by the end of the connection: received, unusable.
                self.stats["received"] += 1
                self.stats["bad"] += 1
                logger.debug("TAK %s: %d bytes of an unfinished event at the end", peer, len(splitter.pending))
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(_FLUSH)
            writer.close()
            self._connections.discard(task)

    # ------------------------------------------------------------------- parsing

    async def _start_parse_workers(self, timeout: float = 60.0) -> None:
        """Start the parse worker and wait until it answers, so that the first burst does not
        share the machine with its start-up (a Python interpreter importing cot.py)."""
        import multiprocessing

        try:
            # spawn: the listener's process has threads (the sink's) and database connections,
            # which a forked child must not inherit. The worker imports cot.py, no Django.
            self._pool = ProcessPoolExecutor(self.parse_workers, mp_context=multiprocessing.get_context("spawn"))
            warm_up = asyncio.get_running_loop().run_in_executor(
                self._pool, map_documents, [], self.source_code, self.marking, self.channel, False
            )
            await asyncio.wait_for(warm_up, timeout)
        except Exception as exc:  # noqa: BLE001 - no worker processes here (sandbox): parse inline
            logger.warning("TAK parse workers unavailable, parsing in the listener: %r", exc)
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _map(self, documents: list[bytes], peer) -> Batch:
        """Parse and map a read's documents: in the parse worker when there are many (a burst;
        the listener's own process then keeps reading and writing), inline when there are few
        (a process round trip costs more than a handful of events). Per connection the order is
        kept: the connection waits for its documents before it reads on."""
        self.stats["received"] += len(documents)
        args = (documents, self.source_code, self.marking, self.channel, logger.isEnabledFor(logging.DEBUG))
        result = None
        if self._pool is not None and len(documents) >= self.parse_offload_min:
            try:
                result = await asyncio.get_running_loop().run_in_executor(self._pool, map_documents, *args)
            except asyncio.CancelledError:
                # Closing: the documents were received, so they go to the sink all the same.
                self._account(map_documents(*args), peer, self._orphans)
                raise
            except Exception as exc:  # noqa: BLE001 - a dead worker must not cost the events
                pool, self._pool = self._pool, None
                if pool is not None:  # the first connection to see it says so
                    logger.warning("TAK parse worker failed (%r); parsing in the listener from now on", exc)
                    pool.shutdown(wait=False, cancel_futures=True)
        if result is None:
            result = map_documents(*args)
        items: Batch = []
        self._account(result, peer, items)
        return items

    def _account(self, result, peer, into: Batch) -> None:
        items, bad, skipped, notes = result
        self.stats["bad"] += bad
        self.stats["skipped"] += skipped
        for level, message in notes:
            logger.log(level, "TAK %s: %s", peer, message)
        into.extend(items)

    # --------------------------------------------------------------------- batching

    async def _run_batcher(self) -> None:
        """Group commit: a batch is due at batch_size events, flush_interval seconds after its
        first event, or on a flush marker; it leaves as soon as a sink slot is free. While every
        slot is busy a due batch goes on taking what arrives, up to batch_size, so a slow
        database gets fewer, larger transactions instead of a queue of small ones. Beyond
        batch_size it takes nothing more: the queue fills and the connections stop reading."""
        loop = asyncio.get_running_loop()
        queue = self._queue
        batch: Batch = []
        deadline = 0.0
        flush = stop = False
        # One pending get() survives a timeout instead of being cancelled: cancelling a get()
        # that has just been handed an item is the classic way to lose that item. The same goes
        # for a pending slot acquisition.
        getter: asyncio.Future | None = None
        slot: asyncio.Future | None = None
        while True:
            if batch and slot is None and (flush or len(batch) >= self.batch_size or loop.time() >= deadline):
                slot = asyncio.ensure_future(self._slots.acquire())
            if slot is not None and slot.done():
                slot = None
                head, batch = batch[: self.batch_size], batch[self.batch_size :]
                self._launch(head)
                if not batch:
                    flush = False
                continue
            if stop and not batch:
                return
            waits = set()
            if slot is not None:
                waits.add(slot)
            if not stop and len(batch) < self.batch_size:
                if getter is None and not queue.empty():
                    item = queue.get_nowait()
                else:
                    if getter is None:
                        getter = asyncio.ensure_future(queue.get())
                    waits.add(getter)
                    item = None
            else:
                item = None
            if item is None:
                timeout = max(0.0, deadline - loop.time()) if batch and slot is None else None
                done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if getter is None or getter not in done:
                    continue  # a slot is free, or the deadline passed: looked at above
                item, getter = getter.result(), None
            if item is _FLUSH or item is _STOP:
                flush = bool(batch)
                stop = stop or item is _STOP
                continue
            if not batch:
                deadline = loop.time() + self.flush_interval
            batch.extend(item)

    async def _dispatch(self, batch: Batch) -> None:
        # Waiting here for a free slot is what stops the reading when the sink is slow.
        await self._slots.acquire()
        self._launch(batch)

    def _launch(self, batch: Batch) -> None:
        """Hand `batch` to the sink; the caller holds a slot, which the delivery releases."""
        task = asyncio.create_task(self._deliver(batch))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, batch: Batch) -> None:
        try:
            delay = self.retry_delay
            for attempt in range(self.retries + 1):
                try:
                    await asyncio.to_thread(self.sink, batch)
                except Exception as exc:  # noqa: BLE001 - whatever the sink raises, the batch is kept
                    if attempt == self.retries:
                        self._give_up(batch, exc)
                        return
                    logger.warning(
                        "TAK sink failed on %d observations (attempt %d of %d), retrying in %.2f s: %r",
                        len(batch), attempt + 1, self.retries + 1, delay, exc,
                    )
                    await asyncio.sleep(delay)
                    delay *= 2
                else:
                    self.stats["persisted"] += len(batch)
                    return
        finally:
            self._slots.release()

    def _give_up(self, batch: Batch, exc: BaseException) -> None:
        self.stats["failed"] += len(batch)
        logger.error(
            "TAK sink failed %d times; %d observations kept in the dead letter: %r",
            self.retries + 1, len(batch), exc,
        )
        if self.on_dead_letter is not None:
            try:
                self.on_dead_letter(batch, exc)
                return
            except Exception:
                logger.exception("TAK on_dead_letter failed; keeping the batch in memory")
        self.dead_letter.append(batch)


def map_documents(
    documents: Sequence[bytes], source_code: str, marking: Mapping | None, channel: str | None, debug: bool
) -> tuple[Batch, int, int, list[tuple[int, str]]]:
    """Parse and map CoT documents: (observation items, bad, skipped, log notes). Runs in a parse
    worker process or in the listener; pure (cot.py only), so both give the same result."""
    items: Batch = []
    bad = skipped = 0
    notes: list[tuple[int, str]] = []
    for doc in documents:
        try:
            mapped = to_observation(parse_event(doc), source_code=source_code, marking=marking, channel=channel)
        except CotError as exc:
            bad += 1
            if debug:
                notes.append((logging.DEBUG, f"bad event: {exc}"))
            continue
        except Exception:  # noqa: BLE001 - a bug in mapping must not cost the connection
            bad += 1
            notes.append((logging.ERROR, f"event could not be mapped\n{traceback.format_exc()}"))
            continue
        if mapped is None:
            skipped += 1
        else:
            items.append(mapped)
    return items, bad, skipped, notes


# ============================================================================ pytak helpers


def _import_pytak():
    # pytak warns at import about optional packages (aiohttp) that plain TCP/TLS do not use.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pytak
    return pytak


async def pytak_burst(cot_url: str, payloads: Sequence[bytes], config: Mapping[str, str] | None = None) -> None:
    """Send `payloads` (CoT XML bytes, or any bytes) to `cot_url` through pytak's own sending
    path: protocol_factory opens the connection (tcp:// or tls://), a TXWorker writes each queued
    item and drains; then the connection is closed cleanly. `config` adds pytak settings
    (e.g. PYTAK_TLS_CLIENT_CERT)."""
    from configparser import ConfigParser

    pytak = _import_pytak()
    parser = ConfigParser(interpolation=None)
    parser["pytak"] = {"COT_URL": cot_url, "TAK_PROTO": "0", "PYTAK_NO_HELLO": "1", **(config or {})}
    # Unbounded queue, filled up front: pytak's put_queue drops the oldest item when its queue is
    # full, which would make a loss on the sending side look like one on ours.
    queue: asyncio.Queue = asyncio.Queue()
    for payload in payloads:
        queue.put_nowait(payload)
    worker = await pytak.txworker_factory(queue, parser["pytak"])
    try:
        for _ in range(len(payloads)):
            await worker.run_once()
    finally:
        worker.writer.close()
        with contextlib.suppress(OSError):
            await worker.writer.wait_closed()


def bench_events(n: int, cot_type: str = "b-d-i-m") -> list[bytes]:
    """n distinct CoT reports as pytak writes them (XML declaration, flow tags, callsign)."""
    pytak = _import_pytak()
    return [
        pytak.gen_cot(
            lat=47.0 + (i % 1000) * 1e-4, lon=36.0 + (i // 1000) * 1e-4, ce=25, hae=150, le=10,
            uid=f"bench-{i}", stale=120, cot_type=cot_type, callsign=f"OP-{i % 50}",
        )
        for i in range(n)
    ]


def _bench_client(port: int, n: int, ready, go) -> None:
    """The sending side of `bench`, in its own process so that the client's CPU is not counted
    against the listener's."""

    async def main() -> None:
        payloads = bench_events(n)
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        await pytak_burst(f"tcp://127.0.0.1:{port}", payloads)

    asyncio.run(main())


def bench(n: int = 10_000, *, sink: Callable[[Batch], None] | None = None, source_code: str = "BENCH", batch_size: int = 2000, timeout: float = 120.0) -> dict:
    """Send n pytak events over TCP from a separate process to a listener whose sink does
    nothing (or `sink`, e.g. the database); events/s counts from the client's first send to the
    last event the sink has taken."""
    import multiprocessing

    async def run() -> dict:
        listener = TakListener(sink or (lambda batch: None), source_code=source_code, port=0, batch_size=batch_size)
        port = await listener.start()
        ctx = multiprocessing.get_context("spawn")
        ready, go = ctx.Event(), ctx.Event()
        proc = ctx.Process(target=_bench_client, args=(port, n, ready, go), daemon=True)
        proc.start()
        loop = asyncio.get_running_loop()
        try:
            if not await loop.run_in_executor(None, ready.wait, timeout):
                raise RuntimeError("the pytak client did not start")
            stats = listener.stats
            t0 = time.perf_counter()
            go.set()
            while stats["persisted"] + stats["skipped"] + stats["bad"] + stats["failed"] < n:
                if time.perf_counter() - t0 > timeout:
                    break
                await asyncio.sleep(0.001)
            elapsed = time.perf_counter() - t0
            await loop.run_in_executor(None, proc.join, timeout)
        finally:
            if proc.is_alive():
                proc.terminate()
            await listener.close()
        persisted = listener.stats["persisted"]
        return {
            "events": n,
            "persisted": persisted,
            "lost": n - persisted,
            "seconds": round(elapsed, 4),
            "events_per_s": round(persisted / elapsed, 1) if elapsed > 0 else 0.0,
            "batch_size": batch_size,
            "client": "pytak TXWorker over TCP, separate process",
            "sink": "does nothing" if sink is None else getattr(sink, "__doc__", None) or "custom",
            "stats": dict(listener.stats),
        }

    return asyncio.run(run())
