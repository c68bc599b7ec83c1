package pools

import (
	"errors"
	"fmt"
	"strings"
)

// A TaskError reports a task that failed.
type TaskError struct {
	Pool      string // e.g. "threads(4)"
	Verb      string // e.g. "pool.map"
	Index     int64  // the task's index in the job
	Args      string // a short repr of its arguments
	Worker    string // e.g. "process 2 (pid 4711)"
	Kind      string // "error" (raised by the task), "serialize", "worker-died", "cancelled"
	Message   string // the error message
	Traceback string // the task's traceback, in the user's file:line
}

func (e *TaskError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s: task %d with arguments %s failed", e.Verb, e.Pool, e.Index, e.Args)
	if e.Worker != "" {
		fmt.Fprintf(&b, " on %s", e.Worker)
	}
	if e.Traceback != "" {
		b.WriteString(":\n")
		b.WriteString(strings.TrimRight(e.Traceback, "\n"))
	} else {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// ErrClosed is returned when a job is submitted to a closed pool.
var ErrClosed = errors.New("pool is closed (call restart() to use it again)")

// A TimeoutError reports a job that ran out of time.
type TimeoutError struct {
	Verb    string
	Pool    string
	Timeout string
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s on %s: timed out after %s", e.Verb, e.Pool, e.Timeout)
}

// workerDied marks an error as the loss of a worker rather than the
// failure of a task: the scheduler runs the chunk again elsewhere.
// unsent means the worker was gone before the chunk reached it: the chunk
// goes back to the queue as it was, and the loss is not charged to it.
type workerDied struct {
	err    error
	unsent bool
}

func (e *workerDied) Error() string { return e.err.Error() }
func (e *workerDied) Unwrap() error { return e.err }
