package pools_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// poolKinds are the pool constructors every behaviour is checked on.
var poolKinds = []struct{ name, ctor, spec string }{
	{"threads", "pool.threads(2)", "threads:2"},
	{"processes", "pool.processes(2)", "processes:2"},
}

// Leaving an imap loop early cancels the rest; the input is read lazily,
// so a huge range yields its first results at once.
func TestImapBreakEarly(t *testing.T) {
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			in, _ := newInterp(t, "serial")
			got := mustRun(t, in, fmt.Sprintf(`
p = %s
seen = []
for y in p.imap(lambda x: x * 3, range(100000000)):
    seen.append(y)
    if len(seen) == 5:
        break
u = []
for y in p.uimap(lambda x: x, range(100000000)):
    u.append(y)
    if len(u) == 3:
        break
after = p.map(lambda x: -x, range(4))
result = (seen, len(u), after)
`, k.ctor))
			if want := "([0, 3, 6, 9, 12], 3, [0, -1, -2, -3])"; got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

// Maps nest three levels deep: a mapped function maps a function that
// maps again, on pools of each kind created inside the tasks.
func TestNestedMaps(t *testing.T) {
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			in, _ := newInterp(t, "serial")
			got := mustRun(t, in, fmt.Sprintf(`
def leaf(x):
    return x + 1
def mid(x):
    return sum(pool.map(leaf, range(x)))  # the task's default pool: serial
def top(x):
    return sum(%s.map(mid, range(x)))
result = %s.map(top, range(4))
`, k.ctor, k.ctor))
			// top(x) = sum over m < x of sum over l < m of (l+1) = sum m(m+1)/2.
			var want []string
			for x := range 4 {
				s := 0
				for m := range x {
					s += m * (m + 1) / 2
				}
				want = append(want, fmt.Sprint(s))
			}
			if w := "[" + strings.Join(want, ", ") + "]"; got != w {
				t.Errorf("got %s, want %s", got, w)
			}
		})
	}
}

// Threads inside threads with many more outer tasks than workers: every
// outer task holds a worker while its inner map runs, which must not
// wait for the outer pool's workers.
func TestNestedThreadsNoDeadlock(t *testing.T) {
	in, _ := newInterp(t, "threads:2")
	got := mustRun(t, in, `
def inner(x):
    return x * x
def outer(x):
    a = pool.map(inner, range(x))            # default pool inside a task
    b = pool.threads(2).map(inner, range(x)) # a threads pool of its own
    return sum(a) + sum(b)
result = pool.map(outer, range(16))
`)
	var want []string
	for x := range 16 {
		s := 0
		for i := range x {
			s += i * i
		}
		want = append(want, fmt.Sprint(2*s))
	}
	if w := "[" + strings.Join(want, ", ") + "]"; got != w {
		t.Errorf("got %s, want %s", got, w)
	}
}

// Creating and closing many pools leaves no processes, goroutines or file
// descriptors behind.
func TestManyPoolsNoLeaks(t *testing.T) {
	noChildrenLeft(t)
	before := runtime.NumGoroutine()
	fdsBefore := openFiles(t)
	in, _ := newInterp(t, "serial")
	got := mustRun(t, in, `
total = 0
for i in range(50):
    p = pool.threads(2)
    total += sum(p.map(lambda x: x, range(i)))
    p.close()
    p.join()
for i in range(25):  # each start of a race-enabled worker takes a while
    p = pool.processes(2)
    total += sum(p.map(lambda x: x, range(3)))
    if i % 2:
        p.close()
        p.join()
    else:
        p.terminate()
result = total
`)
	if want := fmt.Sprint(50*49*48/6 + 25*3); got != want {
		t.Errorf("total = %s, want %s", got, want)
	}
	noChildrenLeft(t)
	in.Close()
	if !waitFor(10*time.Second, func() bool { return runtime.NumGoroutine() <= before+2 }) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf)
	}
	if !waitFor(10*time.Second, func() bool { return openFiles(t) <= fdsBefore+2 }) {
		t.Errorf("open files: %d before, %d after", fdsBefore, openFiles(t))
	}
}

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(entries)
}

// timeout= fails a map with "timed out" and leaves the pool usable; so
// does get(timeout=) of amap, which leaves the job running.
func TestTimeouts(t *testing.T) {
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			in, _ := newInterp(t, k.spec)
			_, err := run(t, in, `pool.map(lambda x: time.sleep(30), range(4), timeout=0.2)`)
			if err == nil || !strings.Contains(err.Error(), "timed out") {
				t.Errorf("map with timeout: got %v, want an error containing %q", err, "timed out")
			}
			_, err = run(t, in, `
r = pool.amap(lambda x: time.sleep(30), range(2))
r.get(timeout=0.1)
`)
			if err == nil || !strings.Contains(err.Error(), "timed out") {
				t.Errorf("get with timeout: got %v, want an error containing %q", err, "timed out")
			}
			got := mustRun(t, in, `
r = pool.amap(lambda x: x + 1, range(3))
result = (pool.map(lambda x: x * 2, range(4)), r.get(timeout=60))
`)
			if want := "([0, 2, 4, 6], [1, 2, 3])"; got != want {
				t.Errorf("after timeouts: got %s, want %s", got, want)
			}
		})
	}
}

// Cancelling the context of Run (Ctrl-C) stops the tasks on every
// worker: Run returns, and the workers are free for the next script.
func TestCancelStopsEveryWorker(t *testing.T) {
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			in, out := newInterp(t, k.spec)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// A worker runs one task at a time, so two tasks asleep at
			// once are asleep on two workers.
			var mu sync.Mutex
			asleep := make(map[string]bool)
			bothAsleep := make(chan struct{})
			out.onLine = func(line string) {
				mu.Lock()
				defer mu.Unlock()
				if strings.HasPrefix(line, "sleeping") && !asleep[line] {
					asleep[line] = true
					if len(asleep) == 2 {
						close(bothAsleep)
					}
				}
			}
			errc := make(chan error, 1)
			go func() {
				_, err := in.Run(ctx, "cancel.star", `
def f(x):
    print("sleeping %d" % x)
    time.sleep(3600)
pool.map(f, range(4), chunksize=1)
`)
				errc <- err
			}()
			select {
			case <-bothAsleep:
			case err := <-errc:
				t.Fatalf("Run ended before its tasks slept: %v", err)
			case <-time.After(testTimeout):
				t.Fatal("tasks did not start")
			}
			cancel()
			select {
			case err := <-errc:
				if err == nil {
					t.Error("cancelled Run returned no error")
				}
			case <-time.After(testTimeout):
				t.Fatal("Run did not return after its context was cancelled")
			}
			// Two tasks that need both workers: they run only if the
			// sleeping tasks stopped.
			got := mustRun(t, in, `result = pool.map(lambda x: x + 1, range(2), chunksize=1)`)
			if got != "[1, 2]" {
				t.Errorf("after cancel: got %s, want [1, 2]", got)
			}
		})
	}
}

// Many goroutines run maps at once, each on a threads pool of its own and
// on the shared default pool of one interpreter.
func TestConcurrentMaps(t *testing.T) {
	in, _ := newInterp(t, "threads:3")
	const goroutines = 12
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			globals, err := in.Run(ctx, fmt.Sprintf("g%d.star", g), prelude+fmt.Sprintf(`
g = %d
p = pool.threads(2)
acc = []
for i in range(20):
    a = p.map(lambda x: x * g, range(i))
    b = pool.map(lambda x: x + g, range(i))
    c = list(p.imap(lambda x, y: x - y, a, b))
    acc.append(sum(c))
p.close()
p.join()
result = acc
`, g))
			if err != nil {
				errs <- err
				return
			}
			var want []string
			for i := range 20 {
				s := 0
				for x := range i {
					s += x*g - (x + g)
				}
				want = append(want, fmt.Sprint(s))
			}
			if got, w := globals["result"].String(), "["+strings.Join(want, ", ")+"]"; got != w {
				errs <- fmt.Errorf("goroutine %d: got %s, want %s", g, got, w)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Terminating a pool stops the tasks running on it, even on goroutines
// of this process, and fails its unfinished jobs.
func TestTerminateStopsRunningTasks(t *testing.T) {
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			in, _ := newInterp(t, "serial")
			got := mustRun(t, in, fmt.Sprintf(`
p = %s
r = p.amap(lambda x: time.sleep(3600), range(4))
p.terminate()
r.wait()
ok = r.successful()
p.restart()
result = (ok, p.map(lambda x: x + 1, range(3)))
`, k.ctor))
			if want := "(False, [1, 2, 3])"; got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}
