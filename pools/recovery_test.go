package pools_test

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A worker process killed in the middle of a map is replaced; the tasks
// it was running run again elsewhere and the map's result is whole.
func TestProcessKilledMidMap(t *testing.T) {
	noChildrenLeft(t)
	in, out := newInterp(t, "serial")
	var killed atomic.Int32
	out.onLine = func(line string) {
		// The first task to start takes its worker down with it.
		if line == "started" && killed.CompareAndSwap(0, 1) {
			if killChildren(t) == 0 {
				t.Error("no worker process to kill")
			}
		}
	}
	src := `
p = pool.processes(2)
def f(x):
    if x == 0:
        print("started")
    time.sleep(0.05)
    return x * x
result = p.map(f, range(20))
again = p.map(lambda x: x + 1, range(5))
if again != [1, 2, 3, 4, 5]:
    fail("pool unusable after a worker died: %r" % again)
`
	got := mustRun(t, in, src)
	want := make([]string, 20)
	for i := range want {
		want[i] = strconv.Itoa(i * i)
	}
	if w := "[" + strings.Join(want, ", ") + "]"; got != w {
		t.Errorf("map result = %s, want %s", got, w)
	}
	if killed.Load() == 0 {
		t.Error("the test never killed a worker")
	}
}

// Killing every worker that runs one task, twice, fails the map with an
// error that names the task.
func TestTaskKillingTwoWorkersFailsMap(t *testing.T) {
	noChildrenLeft(t)
	in, out := newInterp(t, "processes:1") // the default pool outlives one script
	var kills atomic.Int32
	out.onLine = func(line string) {
		if line == "task 3 running" {
			kills.Add(1)
			killChildren(t) // one worker: it is the one running task 3
		}
	}
	src := `
def f(x):
    if x == 3:
        print("task 3 running")
        time.sleep(60)
    return x
pool.map(f, range(6), chunksize=1)
`
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		_, err = run(t, in, src)
	}()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("map did not end after its task killed two workers")
	}
	if err == nil || !strings.Contains(err.Error(), "worker died while running task 3") {
		t.Fatalf("got error %v, want one containing %q", err, "worker died while running task 3")
	}
	if n := kills.Load(); n != 2 {
		t.Errorf("task 3 started %d times, want 2", n)
	}
	// The pool replaced its worker and is still usable.
	got := mustRun(t, in, `
result = pool.map(lambda x: x * 2, range(4))
`)
	if got != "[0, 2, 4, 6]" {
		t.Errorf("map after failure = %s, want [0, 2, 4, 6]", got)
	}
}
