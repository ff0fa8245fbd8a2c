"""The TAK listener: Cursor on Target over TCP (or TLS with client certificates) into the
observation intake.

Each connection's bytes go through an EventSplitter; each event is parsed and mapped (cot.py),
and the (observation dict, raw detail bytes) pairs are handed in batches to `sink(batch)`, a
synchronous callable run in a worker thread (asyncio.to_thread) so that the event loop keeps
reading. The lead engineer wires `sink` to the intake service; nothing here imports Django.

What it promises
- Batches: a batch goes to the sink when it holds `batch_size` events or `flush_interval`
  seconds after its first event arrived, whichever comes first, and at once when a connection
  closes, so a burst is persisted in a few large transactions.
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
import ssl as ssl_module
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence

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

    Units: flush_interval, retry_delay and grace in seconds; max_event_bytes and read_size in
    bytes; batch_size in events; queue_chunks in reads.
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
        max_in_flight: int = 2,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        read_size: int = 64 * 1024,
        queue_chunks: int = 64,
        retries: int = 5,
        retry_delay: float = 0.2,
        on_dead_letter: Callable[[Batch, BaseException], None] | None = None,
    ):
        if batch_size < 1 or max_in_flight < 1 or queue_chunks < 1:
            raise ValueError("batch_size, max_in_flight and queue_chunks must be at least 1")
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

    # ------------------------------------------------------------------------ lifecycle

    async def start(self) -> int:
        """Bind and start accepting; returns the bound port."""
        if self._server is not None:
            return self.port
        self._queue = asyncio.Queue(self.queue_chunks)
        self._slots = asyncio.Semaphore(self.max_in_flight)
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
                items = self._process(splitter.feed(data), peer)
                if splitter.garbage_bytes != garbage or splitter.oversized != oversized:
                    self.stats["garbage_bytes"] += splitter.garbage_bytes - garbage
                    self.stats["oversized"] += splitter.oversized - oversized
                    garbage, oversized = splitter.garbage_bytes, splitter.oversized
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

    def _process(self, documents: Iterable[bytes], peer) -> Batch:
        items: Batch = []
        stats = self.stats
        for doc in documents:
            stats["received"] += 1
            try:
                mapped = to_observation(
                    parse_event(doc), source_code=self.source_code, marking=self.marking, channel=self.channel
                )
            except CotError as exc:
                stats["bad"] += 1
                logger.debug("TAK %s: bad event: %s", peer, exc)
                continue
            except Exception:  # a bug in mapping must not cost the connection
                stats["bad"] += 1
                logger.exception("TAK %s: event could not be mapped", peer)
                continue
            if mapped is None:
                stats["skipped"] += 1
            else:
                items.append(mapped)
        return items

    # --------------------------------------------------------------------- batching

    async def _run_batcher(self) -> None:
        loop = asyncio.get_running_loop()
        queue = self._queue
        batch: Batch = []
        deadline = 0.0
        # One pending get() survives a timeout instead of being cancelled: cancelling a get()
        # that has just been handed an item is the classic way to lose that item.
        getter: asyncio.Future | None = None
        while True:
            if getter is None and not queue.empty():
                item = queue.get_nowait()
            else:
                if getter is None:
                    getter = asyncio.ensure_future(queue.get())
                if batch:
                    done, _ = await asyncio.wait((getter,), timeout=max(0.0, deadline - loop.time()))
                    if not done:
                        item = _FLUSH
                    else:
                        item, getter = getter.result(), None
                else:
                    item, getter = await getter, None
            if item is _FLUSH or item is _STOP:
                if batch:
                    await self._dispatch(batch)
                    batch = []
                if item is _STOP:
                    return
                continue
            if not batch:
                deadline = loop.time() + self.flush_interval
            batch.extend(item)
            while len(batch) >= self.batch_size:
                head, batch = batch[: self.batch_size], batch[self.batch_size :]
                await self._dispatch(head)
                deadline = loop.time() + self.flush_interval

    async def _dispatch(self, batch: Batch) -> None:
        # Waiting here for a free slot is what stops the reading when the sink is slow.
        await self._slots.acquire()
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
