// Package pools runs Starlark functions over many inputs on a pool of
// workers: the caller's own goroutine (serial), goroutines (threads), child
// processes of the same binary (processes), or workers on other hosts
// reached through a byte stream (remote, built on the same protocol).
//
// Every pool keeps one semantics, so that a script prints the same thing
// whichever pool it runs on:
//
//   - A job snapshots its function at the moment of the call: the function
//     is serialized (source plus bindings) and decoded once, frozen, for the
//     job. Later changes to the caller's globals do not reach it.
//   - Each task gets its own fresh, mutable copy of its arguments; the
//     caller's values are never frozen or changed.
//   - Results come back by value.
//   - A failing task fails the job with a *TaskError that names the pool,
//     the task index, a short repr of the arguments, the worker and the
//     task's traceback in the user's own file:line.
//
// One scheduler feeds every pool kind: a job's inputs are cut into chunks,
// the chunks wait in the pool's queue, and each worker slot takes the next
// chunk when it is free, so load balances itself across workers. Ordered
// (map, imap) and completion-order (uimap) collection, cancellation by
// context, timeouts, and recovery from a dying worker (its chunk runs
// again elsewhere; a chunk that kills two workers fails the job) are the
// scheduler's, not the workers'.
//
// Inside a task the default pool is serial, so nested maps never wait for
// the workers their own outer tasks occupy.
package pools
