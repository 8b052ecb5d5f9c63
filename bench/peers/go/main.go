// The Go peer for `weft bench`: the same workloads as weft's kernels
// (bench/*.c), on Go's runtime primitives. Each result is printed as
//   RESULT <name> <ops per second>
// and the best of -reps runs is kept, as weft's side does.
//
//   weftpeer [-reps 3] [-scale 1.0] name...   (no names: all)
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func chan1p1c(n int) time.Duration {
	c := make(chan int64, 1024)
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			c <- int64(i)
		}
		close(c)
	}()
	for range c {
	}
	return time.Since(t0)
}

func chan4p4c(n int) time.Duration {
	c := make(chan int64, 1024)
	var wg sync.WaitGroup
	per := n / 4
	t0 := time.Now()
	for k := 0; k < 4; k++ {
		go func() {
			for i := 0; i < per; i++ {
				c <- int64(i)
			}
		}()
	}
	wg.Add(4)
	for k := 0; k < 4; k++ {
		go func() {
			for i := 0; i < per; i++ {
				<-c
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return time.Since(t0)
}

func pingpong(n int) time.Duration {
	a, b := make(chan int64), make(chan int64)
	go func() {
		for v := range a {
			b <- v
		}
		close(b)
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		a <- int64(i)
		<-b
	}
	d := time.Since(t0)
	close(a)
	return d
}

func mutexUncontended(n int) time.Duration {
	var mu sync.Mutex
	counter := 0
	t0 := time.Now()
	for i := 0; i < n; i++ {
		mu.Lock()
		counter++
		mu.Unlock()
	}
	d := time.Since(t0)
	if counter != n {
		panic("lost updates")
	}
	return d
}

func mutexContended(n int) time.Duration {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	per := n / 4
	wg.Add(4)
	t0 := time.Now()
	for k := 0; k < 4; k++ {
		go func() {
			for i := 0; i < per; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	if counter != per*4 {
		panic("lost updates")
	}
	return d
}

// One op: go f() of a tiny task from the main goroutine + its run +
// completion (wg.Done: one atomic decrement, the last wakes the waiter, as
// weft's tiny task does); one wait at the end.
func poolTinyOutside(n int) time.Duration {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go wg.Done()
	}
	wg.Wait()
	return time.Since(t0)
}

const round = 256

// One op: go f() of a tiny task from inside a goroutine + its run; the
// spawner joins each round of 256 on a WaitGroup.
func poolTinyInside(n int) time.Duration {
	finished := make(chan struct{})
	t0 := time.Now()
	go func() {
		var wg sync.WaitGroup
		for left := n; left > 0; left -= round {
			k := round
			if left < k {
				k = left
			}
			wg.Add(k)
			for i := 0; i < k; i++ {
				go wg.Done()
			}
			wg.Wait()
		}
		close(finished)
	}()
	<-finished
	return time.Since(t0)
}

// One op: one iteration of the multiply-xorshift body of bench/pool.c, split
// into GOMAXPROCS*8 chunks, one goroutine each (weft's default grain is
// n / (8 * workers)).
func poolParallelFor(n int) time.Duration {
	var total atomic.Uint64
	var wg sync.WaitGroup
	chunks := runtime.GOMAXPROCS(0) * 8
	t0 := time.Now()
	wg.Add(chunks)
	for c := 0; c < chunks; c++ {
		lo, hi := n*c/chunks, n*(c+1)/chunks
		go func() {
			var acc uint64
			for i := lo; i < hi; i++ {
				x := uint64(i) * 0x9e3779b97f4a7c15
				acc += x ^ (x >> 29)
			}
			total.Add(acc)
			wg.Done()
		}()
	}
	wg.Wait()
	return time.Since(t0)
}

// fib(k) forking fib(k-1) onto a goroutine, running fib(k-2) inline and
// joining on a WaitGroup.
func fibTask(k int) int {
	if k < 2 {
		return k
	}
	var a int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		a = fibTask(k - 1)
		wg.Done()
	}()
	b := fibTask(k - 2)
	wg.Wait()
	return a + b
}

// One op: one call of fork/join fib. As bench/pool.c: the argument whose
// call count (2 fib(k+1) - 1) first reaches n, the time scaled to n calls.
func poolFib(n int) time.Duration {
	arg, calls, a, b := 1, 1, 1, 1
	for calls < n {
		a, b = b, a+b
		arg++
		calls = 2*b - 1
	}
	t0 := time.Now()
	r := fibTask(arg)
	d := time.Since(t0)
	if r != a {
		panic("wrong fib")
	}
	return time.Duration(float64(d) * float64(n) / float64(calls))
}

// One op: a goroutine started and run to its end (the loop's spawn+finish).
func spawnFinish(n int) time.Duration {
	var wg sync.WaitGroup
	wg.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return time.Since(t0)
}

// One op: a 64-byte message written and read back by one of conns client
// goroutines, echoed by a server goroutine per connection (bench/net.c).
func tcpEcho(n, conns int) time.Duration {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for i := 0; i < conns; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				buf := make([]byte, 4096)
				for {
					k, err := c.Read(buf)
					if err != nil {
						c.Close()
						return
					}
					if _, err := c.Write(buf[:k]); err != nil {
						c.Close()
						return
					}
				}
			}(c)
		}
		ln.Close()
	}()
	per := n / conns
	if per < 1 {
		per = 1
	}
	clients := make([]net.Conn, conns)
	for i := range clients {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			panic(err)
		}
		clients[i] = c
	}
	var wg sync.WaitGroup
	wg.Add(conns)
	t0 := time.Now()
	for _, c := range clients {
		go func(c net.Conn) {
			out := make([]byte, 64)
			in := make([]byte, 64)
			for i := 0; i < per; i++ {
				if _, err := c.Write(out); err != nil {
					panic(err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					panic(err)
				}
			}
			c.Close()
			wg.Done()
		}(c)
	}
	wg.Wait()
	d := time.Since(t0)
	return time.Duration(float64(d) * float64(n) / float64(per*conns))
}

func tcpEcho100(n int) time.Duration  { return tcpEcho(n, 100) }
func tcpEcho1000(n int) time.Duration { return tcpEcho(n, 1000) }

// One op: one of n goroutines alive at once, each sleeping 2 s: the time
// is the wall time beyond the sleep (bench/loop.c, sleepers_1m).
func sleepers1m(n int) time.Duration {
	var wg sync.WaitGroup
	wg.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() { time.Sleep(2 * time.Second); wg.Done() }()
	}
	wg.Wait()
	return time.Since(t0) - 2*time.Second
}

// One op: a timer armed (time.AfterFunc 1-2 s away, 10k armed at once)
// and stopped (bench/loop.c, timers_arm_cancel).
func timersArmCancel(n int) time.Duration {
	const k = 10000
	ts := make([]*time.Timer, k)
	rng := uint64(88172645463325252)
	f := func() {}
	t0 := time.Now()
	for done := 0; done < n; done += k {
		for i := 0; i < k; i++ {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			ts[i] = time.AfterFunc(time.Second+time.Duration(rng%uint64(time.Second)), f)
		}
		for i := k - 1; i >= 0; i-- {
			ts[i].Stop()
		}
	}
	return time.Since(t0)
}

type bench struct {
	name string
	n    int
	run  func(int) time.Duration
}

func main() {
	reps := flag.Int("reps", 3, "runs per benchmark; the best is reported")
	scale := flag.Float64("scale", 1.0, "multiply each benchmark's operation count")
	flag.Parse()
	all := []bench{
		{"chan_1p1c", 10_000_000, chan1p1c},
		{"chan_4p4c", 10_000_000, chan4p4c},
		{"chan_pingpong", 1_000_000, pingpong},
		{"mutex_uncontended", 50_000_000, mutexUncontended},
		{"mutex_contended_4t", 10_000_000, mutexContended},
		{"pool_tiny_outside", 10_000_000, poolTinyOutside},
		{"pool_tiny_inside", 10_000_000, poolTinyInside},
		{"pool_parallel_for", 100_000_000, poolParallelFor},
		{"pool_fib", 2_692_537, poolFib},
		{"spawn_finish", 2_000_000, spawnFinish},
		{"task_pingpong", 1_000_000, pingpong}, // goroutines are Go's tasks
		{"sleepers_1m", 1_000_000, sleepers1m},
		{"timers_arm_cancel", 10_000_000, timersArmCancel},
		{"tcp_echo_100", 400_000, tcpEcho100},
		{"tcp_echo_1000", 400_000, tcpEcho1000},
	}
	want := map[string]bool{}
	for _, a := range flag.Args() {
		want[a] = true
	}
	fmt.Fprintf(os.Stderr, "%s GOMAXPROCS=%d\n", runtime.Version(), runtime.GOMAXPROCS(0))
	for _, b := range all {
		if len(want) > 0 && !want[b.name] {
			continue
		}
		n := int(float64(b.n) * *scale)
		if n < 4 {
			n = 4
		}
		best := 0.0
		for r := 0; r < *reps; r++ {
			d := b.run(n)
			if ops := float64(n) / d.Seconds(); ops > best {
				best = ops
			}
		}
		fmt.Printf("RESULT %s %.0f\n", b.name, best)
	}
}
