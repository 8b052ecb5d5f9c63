"""The Python peer for `weft bench`: the seeds' own primitives (queue.Queue,
threading.Lock) on the same workloads as weft's kernels, scaled down since
they run ~100x slower. Prints "RESULT <name> <ops/s>", the best of reps.

    python3 py_peer.py [reps] [scale] [name...]
"""
import queue
import sys
import threading
import time


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


BENCHES = [
    ("chan_1p1c", 300_000, queue_1p1c),
    ("chan_4p4c", 200_000, queue_4p4c),
    ("mutex_uncontended", 2_000_000, lock_uncontended),
    ("mutex_contended_4t", 1_000_000, lock_contended),
]

if __name__ == "__main__":
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    names = set(sys.argv[3:])
    for name, n, fn in BENCHES:
        if names and name not in names:
            continue
        n = max(4, int(n * scale))
        best = max(n / fn(n) for _ in range(reps))
        print(f"RESULT {name} {best:.0f}", flush=True)
