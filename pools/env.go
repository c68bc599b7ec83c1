package pools

import (
	"context"
	"os/exec"
	"time"

	"go.starlark.net/starlark"

	"github.com/pathos-star/pathos-star/serialize"
)

// ContextKey is the thread-local key under which a task's thread holds its
// context.Context, for builtins that block (such as time.sleep).
const ContextKey = "pathos-star.context"

// Env is what pools need from the interpreter that hosts them.
type Env struct {
	// Codec serializes functions, arguments and results.
	Codec *serialize.Codec

	// NewThread returns a fresh thread for running tasks. Its print must
	// call print. It must set thread-local ContextKey to ctx, and arrange
	// that a default pool used inside a task is serial.
	NewThread func(ctx context.Context, name string, print func(string)) *starlark.Thread

	// Print receives the printed lines of tasks, including those
	// forwarded from worker processes. It must be safe for concurrent use.
	Print func(string)

	// Heartbeat is how often workers reached over a connection are pinged
	// while they have work; zero means DefaultHeartbeat.
	Heartbeat time.Duration

	// WorkerCommand returns the command that starts one worker process
	// speaking the protocol on its stdin and stdout. Nil disables process
	// pools.
	WorkerCommand func(ctx context.Context) *exec.Cmd
}

// ContextOf returns the context held by thread, or context.Background.
func ContextOf(thread *starlark.Thread) context.Context {
	if ctx, ok := thread.Local(ContextKey).(context.Context); ok {
		return ctx
	}
	return context.Background()
}
