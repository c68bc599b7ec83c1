package pathosstar

import "go.starlark.net/starlark"

// WithPredeclared adds names to those every script sees. Values that a
// mapped function uses travel by value or, for builtins and modules, by
// name: a worker process only knows the standard names, so a function
// that refers to an extra builtin can only run on serial and thread pools.
func WithPredeclared(extra starlark.StringDict) Option {
	return func(in *Interpreter) error {
		in.extra = extra
		return nil
	}
}
