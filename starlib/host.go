package starlib

import (
	"fmt"

	"go.starlark.net/lib/math"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkjson"
	"go.starlark.net/starlarkstruct"

	"github.com/pathos-star/pathos-star/pools"
	"github.com/pathos-star/pathos-star/remote"
)

// HostKey is the thread-local key under which a thread holds its Host.
const HostKey = "pathos-star.host"

// A Host is what the builtins need from the interpreter running them.
// Implementations must be safe for concurrent use.
type Host interface {
	// PoolEnv returns the environment pools run in.
	PoolEnv() *pools.Env
	// DefaultPool returns the pool that pool.map, pipe and friends use.
	DefaultPool() (*pools.Pool, error)
	// Track registers a pool to be terminated when the interpreter closes.
	Track(p *pools.Pool)
	// SSH returns the interpreter's ssh client: one connection per
	// destination, shared by every builtin, closed with the interpreter.
	SSH() *remote.Client
}

func hostOf(thread *starlark.Thread, who string) (Host, error) {
	h, ok := thread.Local(HostKey).(Host)
	if !ok {
		return nil, fmt.Errorf("%s: no pathos-star interpreter on this thread", who)
	}
	return h, nil
}

// Predeclared returns a new environment with the modules of this package:
// pool, pipe, ssh, tunnel, json, math, time and struct.
func Predeclared() starlark.StringDict {
	return starlark.StringDict{
		"pool":   PoolModule(),
		"pipe":   starlark.NewBuiltin("pipe", pipeBuiltin),
		"ssh":    SSHModule(),
		"tunnel": starlark.NewBuiltin("tunnel", tunnelBuiltin),
		"json":   starlarkjson.Module,
		"math":   math.Module,
		"time":   TimeModule(),
		"struct": starlark.NewBuiltin("struct", starlarkstruct.Make),
	}
}
