// Package starlib provides the Starlark-facing modules of pathos-star:
// pool (serial, threads, processes, remote, and the map verbs), the
// top-level pipe, ssh (connect, run, copy) and tunnel for remote hosts, and
// time, json, math and struct.
//
// The builtins find their interpreter through a Host stored in
// thread-local storage under HostKey: it supplies the environment pools
// run in, the default pool, and a place to register what must be shut down
// when the script or REPL ends.
package starlib
