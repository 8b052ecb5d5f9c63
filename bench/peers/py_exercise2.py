"""Seed 000's exercise 2 solution, as the seed writes it: sum_of_squares(n)
for n in 1M..5M, sequential, then with ProcessPoolExecutor.map on 2 and 5
workers; prints the speedups (the Python side of
examples/exercise2_sum_of_squares.c, for docs/BENCHMARKS.md).

    python3 bench/peers/py_exercise2.py
"""
import time
from concurrent.futures import ProcessPoolExecutor


def sum_of_squares(n):
    return sum(i * i for i in range(n))


NUMBERS = [1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000]

if __name__ == "__main__":
    t0 = time.perf_counter()
    expected = [sum_of_squares(n) for n in NUMBERS]
    seq = time.perf_counter() - t0
    print(f"sequential: {seq:.2f} s")
    for workers in (2, 5):
        t0 = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers) as ex:
            got = list(ex.map(sum_of_squares, NUMBERS))
        took = time.perf_counter() - t0
        assert got == expected
        print(f"ProcessPoolExecutor, {workers} workers: {took:.2f} s, speedup {seq / took:.2f}x")
