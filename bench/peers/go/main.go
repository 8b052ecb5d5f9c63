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
	"os"
	"runtime"
	"sync"
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
