"""The Python peer for `weft bench`: the seeds' own primitives (queue.Queue,
threading.Lock, ThreadPoolExecutor) on the same workloads as weft's kernels,
scaled down since they run ~100x slower. Prints "RESULT <name> <ops/s>", the
best of reps. There is no pool_fib: a fork/join fib on an executor deadlocks
once every worker waits on a child.

    python3 py_peer.py [reps] [scale] [name...]
"""
import asyncio
import multiprocessing
import os
import queue
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait


def queue_1p1c(n):
    q = queue.Queue(maxsize=1024)

    def prod():
        for i in range(n):
            q.put(i)

    t0 = time.perf_counter()
    th = threading.Thread(target=prod)
    th.start()
    for _ in range(n):
        q.get()
    th.join()
    return time.perf_counter() - t0


def queue_4p4c(n):
    q = queue.Queue(maxsize=1024)
    per = n // 4

    def prod():
        for i in range(per):
            q.put(i)

    def cons():
        for _ in range(per):
            q.get()

    ts = [threading.Thread(target=prod) for _ in range(4)] + [threading.Thread(target=cons) for _ in range(4)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


def lock_uncontended(n):
    lock = threading.Lock()
    counter = 0
    t0 = time.perf_counter()
    for _ in range(n):
        with lock:
            counter += 1
    return time.perf_counter() - t0


def lock_contended(n):
    lock = threading.Lock()
    state = [0]
    per = n // 4

    def work():
        for _ in range(per):
            with lock:
                state[0] += 1

    ts = [threading.Thread(target=work) for _ in range(4)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    assert state[0] == per * 4
    return dt


CPUS = os.cpu_count() or 1
MASK = (1 << 64) - 1


def tiny():
    pass


def pool_tiny_outside(n):
    """One op: submit of a tiny task from the main thread + its run + its
    result; the pool (one worker per CPU) is started outside the timing."""
    with ThreadPoolExecutor(max_workers=CPUS) as ex:
        wait([ex.submit(tiny) for _ in range(CPUS)])
        t0 = time.perf_counter()
        for f in [ex.submit(tiny) for _ in range(n)]:
            f.result()
        return time.perf_counter() - t0


def pool_tiny_inside(n):
    """One op: submit of a tiny task from inside a task + its run; the task
    joins each round of 256. Its worker blocks while it waits (an executor
    worker cannot help), so the pool has one more worker than CPUs."""

    def spawner(ex):
        for left in range(n, 0, -256):
            for f in [ex.submit(tiny) for _ in range(min(left, 256))]:
                f.result()

    with ThreadPoolExecutor(max_workers=CPUS + 1) as ex:
        wait([ex.submit(tiny) for _ in range(CPUS + 1)])
        t0 = time.perf_counter()
        ex.submit(spawner, ex).result()
        return time.perf_counter() - t0


def pf_chunk(lo, hi):
    acc = 0
    for i in range(lo, hi):
        x = (i * 0x9E3779B97F4A7C15) & MASK
        acc += x ^ (x >> 29)
    return acc & MASK


def pool_parallel_for(n):
    """One op: one iteration of the multiply-xorshift body of bench/pool.c,
    in CPUS * 8 chunks mapped over the executor (the GIL runs one at a time)."""
    chunks = CPUS * 8
    with ThreadPoolExecutor(max_workers=CPUS) as ex:
        wait([ex.submit(tiny) for _ in range(CPUS)])
        t0 = time.perf_counter()
        sum(ex.map(pf_chunk, [n * c // chunks for c in range(chunks)],
                   [n * (c + 1) // chunks for c in range(chunks)]))
        return time.perf_counter() - t0


def asyncio_pingpong(n):
    # One op: a put and a get each way between two coroutines, asyncio's
    # nearest to an unbuffered channel ping-pong.
    async def main():
        a, b = asyncio.Queue(maxsize=1), asyncio.Queue(maxsize=1)

        async def pong():
            while True:
                v = await a.get()
                if v is None:
                    return
                await b.put(v)

        t = asyncio.create_task(pong())
        t0 = time.perf_counter()
        for i in range(n):
            await a.put(i)
            await b.get()
        d = time.perf_counter() - t0
        await a.put(None)
        await t
        return d

    return asyncio.run(main())


def asyncio_spawn_finish(n):
    async def main():
        async def nothing():
            pass

        t0 = time.perf_counter()
        tasks = [asyncio.create_task(nothing()) for _ in range(n)]
        await asyncio.gather(*tasks)
        return time.perf_counter() - t0

    return asyncio.run(main())


def asyncio_sleepers(n):
    # One op: one of n coroutines sleeping 2 s at once; the time beyond it.
    async def main():
        t0 = time.perf_counter()
        await asyncio.gather(*[asyncio.sleep(2) for _ in range(n)])
        return time.perf_counter() - t0 - 2

    return asyncio.run(main())


def asyncio_timers(n):
    # One op: loop.call_later 1-2 s away (10k armed at once) + cancel.
    async def main():
        loop = asyncio.get_running_loop()
        k = 10000
        rnd = __import__("random").Random(1)
        t0 = time.perf_counter()
        done = 0
        while done < n:
            hs = [loop.call_later(1 + rnd.random(), lambda: None) for _ in range(k)]
            for h in reversed(hs):
                h.cancel()
            done += k
        return time.perf_counter() - t0

    return asyncio.run(main())


def square(x):
    return x * x


def proc_tiny(n):
    # The seeds' ProcessPoolExecutor, one message per task (no chunking).
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as ex:
        list(ex.map(square, range(100)))  # the workers are up
        t0 = time.perf_counter()
        for _ in ex.map(square, range(n)):
            pass
        return time.perf_counter() - t0


def proc_map_chunked(n):
    # multiprocessing.Pool.map with chunks of 1000 (its fastest form).
    with multiprocessing.Pool(os.cpu_count()) as pool:
        pool.map(square, range(100))
        t0 = time.perf_counter()
        pool.map(square, (i % 1000 for i in range(n)), chunksize=1000)
        return time.perf_counter() - t0


BENCHES = [
    ("chan_1p1c", 300_000, queue_1p1c),
    ("chan_4p4c", 200_000, queue_4p4c),
    ("mutex_uncontended", 2_000_000, lock_uncontended),
    ("mutex_contended_4t", 1_000_000, lock_contended),
    ("pool_tiny_outside", 100_000, pool_tiny_outside),
    ("pool_tiny_inside", 100_000, pool_tiny_inside),
    ("pool_parallel_for", 2_000_000, pool_parallel_for),
    ("proc_tiny", 10_000, proc_tiny),
    ("proc_map_chunked", 2_000_000, proc_map_chunked),
    ("task_pingpong", 100_000, asyncio_pingpong),
    ("spawn_finish", 200_000, asyncio_spawn_finish),
    ("sleepers_1m", 100_000, asyncio_sleepers),
    ("timers_arm_cancel", 200_000, asyncio_timers),
]

# The workloads that run on an asyncio event loop (uvloop_peer.py reruns
# them on uvloop's).
ASYNCIO = {"task_pingpong", "spawn_finish", "sleepers_1m", "timers_arm_cancel"}


def run(benches, argv):
    reps = int(argv[1]) if len(argv) > 1 else 3
    scale = float(argv[2]) if len(argv) > 2 else 1.0
    names = set(argv[3:])
    for name, n, fn in benches:
        if names and name not in names:
            continue
        n = max(4, int(n * scale))
        best = max(n / fn(n) for _ in range(reps))
        print(f"RESULT {name} {best:.0f}", flush=True)


if __name__ == "__main__":
    run(BENCHES, sys.argv)
