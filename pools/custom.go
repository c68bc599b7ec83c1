package pools

import (
	"context"
	"fmt"
)

// A Worker is one worker of a pool built with NewCustom: a value from
// NewConnWorker or StartLocalProcess.
type Worker = worker

// NewCustom returns a pool of n workers of the given kind ("remote" for
// workers reached over connections) whose worker i spawn starts. Spawning
// runs in the background; a worker that dies is replaced by calling spawn
// again with its index.
func NewCustom(env *Env, name, kind string, n int, spawn func(ctx context.Context, i int) (Worker, error)) *Pool {
	p := &Pool{name: name, kind: kind, n: n, env: env, spawn: spawn}
	p.start()
	return p
}

// StartLocalProcess starts a local worker process (as process pools do)
// for use in a custom pool.
func StartLocalProcess(ctx context.Context, env *Env, i int) (Worker, error) {
	if env.WorkerCommand == nil {
		return nil, fmt.Errorf("local workers are not available here (no worker command)")
	}
	return startProcess(ctx, env, i)
}
