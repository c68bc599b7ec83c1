// Package pathosstar embeds pathos-star: a Starlark interpreter whose
// scripts map functions over pools of workers (goroutines, local
// processes, remote hosts) with one semantics for every pool.
//
// A Go program creates an Interpreter with New, chooses the default pool
// with WithPool, and runs Starlark with Run:
//
//	in, err := pathosstar.New(pathosstar.WithPool("threads:4"))
//	if err != nil { ... }
//	defer in.Close()
//	_, err = in.Run(ctx, "job.star", src)
//
// Scripts are ordinary, Python-like Starlark: recursion, while loops, set,
// top-level if/for/while and reassignment of globals are all allowed. The
// predeclared names are pool, pipe, json, math, time, struct and argv.
//
// Every text the interpreter executes (files, loaded modules, -c strings,
// REPL chunks) is kept in a source registry, so that any function defined
// in it can travel to workers as source plus bindings.
//
// Programs that use process pools must call ServeWorkerIfChild (or run
// the "worker" subcommand of the pathos-star command) early in main: the
// pool starts worker processes by re-executing the running binary.
package pathosstar
