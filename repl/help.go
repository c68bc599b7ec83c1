package repl

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
)

// builtinHelp describes the predeclared names of pathos-star, one line
// each. Names missing here are listed with their type.
var builtinHelp = map[string]string{
	"pool":   "pools of workers: pool.map(f, *xs), pool.serial(), pool.threads(n), pool.processes(n), pool.remote(...)",
	"pipe":   "pipe(f, *args, **kwargs): call f once on the default pool and return its result",
	"json":   "json.encode(x), json.decode(s), json.indent(s): JSON text",
	"math":   "math.sqrt, math.pi, math.floor, ...: mathematical functions and constants",
	"time":   "time functions: time.now(), time.sleep(seconds), ...",
	"struct": "struct(**kwargs): an immutable record with the given fields",
	"argv":   "the command-line arguments: argv[0] is the script (\"\" at the prompt)",
	"help":   "help() lists these names; help(x) shows the type and attributes of x",
}

// help is the REPL's help builtin.
func (s *session) help(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	if err := starlark.UnpackPositionalArgs("help", args, kwargs, 0, &x); err != nil {
		return nil, err
	}
	var out strings.Builder
	if x == nil {
		out.WriteString("pathos-star builtins:\n")
		names := make([]string, 0, len(s.in.Predeclared())+1)
		for k := range s.in.Predeclared() {
			names = append(names, k)
		}
		names = append(names, "help")
		sort.Strings(names)
		for _, k := range names {
			d, ok := builtinHelp[k]
			if !ok {
				d = "a value of type " + s.globalType(k)
			}
			fmt.Fprintf(&out, "  %-7s %s\n", k, d)
		}
		out.WriteString("Starlark builtins: " + strings.Join(universeNames(), ", ") + "\n")
		out.WriteString("help(x) describes a value, dir(x) lists its attributes; Tab completes, Control-R searches history.")
	} else {
		fmt.Fprintf(&out, "%s of type %s", shortRepr(x), x.Type())
		if ha, ok := x.(starlark.HasAttrs); ok {
			names := ha.AttrNames()
			sort.Strings(names)
			if len(names) > 0 {
				fmt.Fprintf(&out, "\nattributes: %s", strings.Join(names, ", "))
			}
		}
		if fn, ok := x.(*starlark.Function); ok {
			if doc := fn.Doc(); doc != "" {
				out.WriteString("\n" + doc)
			}
			fmt.Fprintf(&out, "\ndefined at %s", fn.Position())
		}
	}
	if thread.Print != nil {
		thread.Print(thread, out.String())
	} else {
		fmt.Fprintln(s.stdout, out.String())
	}
	return starlark.None, nil
}

func (s *session) globalType(name string) string {
	if v, ok := s.in.Predeclared()[name]; ok {
		return v.Type()
	}
	return "unknown"
}

func universeNames() []string {
	names := make([]string, 0, len(starlark.Universe))
	for k := range starlark.Universe {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// shortRepr is the repr of v cut to one short line.
func shortRepr(v starlark.Value) string {
	r := v.String()
	if i := strings.IndexByte(r, '\n'); i >= 0 {
		r = r[:i] + "..."
	}
	if len(r) > 60 {
		r = r[:57] + "..."
	}
	return r
}
