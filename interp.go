package pathosstar

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/pathos-star/pathos-star/pools"
	"github.com/pathos-star/pathos-star/remote"
	"github.com/pathos-star/pathos-star/serialize"
	"github.com/pathos-star/pathos-star/starlib"
)

// FileOptions are the Starlark dialect of pathos-star scripts: Python-like,
// because users write ordinary scripts.
func FileOptions() *syntax.FileOptions {
	return &syntax.FileOptions{
		Set:             true,
		While:           true,
		TopLevelControl: true,
		GlobalReassign:  true,
		Recursion:       true,
	}
}

// An Interpreter runs pathos-star scripts. Its methods are safe for
// concurrent use, though scripts usually run one at a time.
type Interpreter struct {
	opts        *syntax.FileOptions
	sources     *serialize.Sources
	codec       *serialize.Codec
	predeclared starlark.StringDict
	env         *pools.Env
	stdout      io.Writer
	outMu       sync.Mutex
	poolSpec    string
	args        []string
	workerCmd   func(ctx context.Context) *exec.Cmd
	inTask      bool // a worker's interpreter: the default pool is serial
	extra       starlark.StringDict

	mu      sync.Mutex
	ssh     *remote.Client
	dflt    *pools.Pool
	tracked []*pools.Pool
	modules map[string]*loadEntry
}

// An Option configures an Interpreter.
type Option func(*Interpreter) error

// WithPool sets the default pool from a spec: serial, threads[:N] or
// processes[:N]. The default is serial.
func WithPool(spec string) Option {
	return func(in *Interpreter) error {
		if err := CheckPoolSpec(spec); err != nil {
			return err
		}
		in.poolSpec = spec
		return nil
	}
}

// WithStdout sets where print writes (default os.Stdout).
func WithStdout(w io.Writer) Option {
	return func(in *Interpreter) error { in.stdout = w; return nil }
}

// WithArgs sets argv: the script path, then its arguments.
func WithArgs(args []string) Option {
	return func(in *Interpreter) error { in.args = args; return nil }
}

// WithWorkerCommand sets how process pools start a worker. The default
// re-executes the running binary with the argument "worker" and the
// environment variable PATHOS_STAR_ROLE=worker.
func WithWorkerCommand(f func(ctx context.Context) *exec.Cmd) Option {
	return func(in *Interpreter) error { in.workerCmd = f; return nil }
}

// withTaskDefaults makes the interpreter a worker's: its default pool is
// serial.
func withTaskDefaults() Option {
	return func(in *Interpreter) error { in.inTask = true; return nil }
}

// New returns an interpreter.
func New(opts ...Option) (*Interpreter, error) {
	in := &Interpreter{
		opts:     FileOptions(),
		sources:  serialize.NewSources(),
		stdout:   os.Stdout,
		poolSpec: "serial",
		modules:  make(map[string]*loadEntry),
	}
	in.workerCmd = defaultWorkerCommand
	for _, o := range opts {
		if err := o(in); err != nil {
			return nil, err
		}
	}
	if os.Getenv(roleEnv) == "worker" && !in.inTask {
		// This process was started as a worker but is running a script:
		// its program did not call ServeWorkerIfChild. Starting workers
		// from here would start this program again, without end.
		in.workerCmd = nil
	}
	in.predeclared = starlib.Predeclared()
	argv := make([]starlark.Value, len(in.args))
	for i, a := range in.args {
		argv[i] = starlark.String(a)
	}
	in.predeclared["argv"] = starlark.NewList(argv)
	in.predeclared["argv"].Freeze()
	for k, v := range in.extra {
		in.predeclared[k] = v
	}
	in.codec = serialize.NewCodec(in.sources, serialize.NewNames(in.predeclared), serialize.Limits{})
	in.env = &pools.Env{
		Codec:         in.codec,
		NewThread:     in.newTaskThread,
		Print:         in.print,
		WorkerCommand: in.workerCmd,
	}
	return in, nil
}

// WorkerGOGC is the garbage collector setting of worker processes started
// by the default worker command when the driver's environment has no GOGC,
// the same as the pathos-star command's own: Starlark allocates on every
// call, and at the default of 100 the collector eats much of the parallel
// speedup on a small machine. Set GOGC in the environment to override it.
const WorkerGOGC = "800"

// defaultWorkerCommand re-executes this binary as a worker.
func defaultWorkerCommand(ctx context.Context) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, "worker")
	cmd.Env = append(os.Environ(), roleEnv+"=worker")
	if os.Getenv("GOGC") == "" {
		// Workers allocate on every Starlark call: see WorkerGOGC.
		cmd.Env = append(cmd.Env, "GOGC="+WorkerGOGC)
	}

	return cmd
}

// Predeclared returns the names every script sees. The caller must not
// modify the result.
func (in *Interpreter) Predeclared() starlark.StringDict { return in.predeclared }

// Sources returns the registry of executed source texts.
func (in *Interpreter) Sources() *serialize.Sources { return in.sources }

// DefaultPoolSpec returns the spec of the default pool.
func (in *Interpreter) DefaultPoolSpec() string { return in.poolSpec }

func (in *Interpreter) print(msg string) {
	in.outMu.Lock()
	defer in.outMu.Unlock()
	io.WriteString(in.stdout, msg+"\n")
}

// NewThread returns a thread for running the script's top level (or a
// REPL): print goes to the interpreter's stdout, load resolves relative
// to the loading file, and ctx cancels it.
func (in *Interpreter) NewThread(ctx context.Context, name string) *starlark.Thread {
	t := &starlark.Thread{
		Name:  name,
		Print: func(_ *starlark.Thread, msg string) { in.print(msg) },
		Load:  in.load,
	}
	t.SetLocal(pools.ContextKey, ctx)
	t.SetLocal(starlib.HostKey, host{in})
	return t
}

// newTaskThread makes threads for tasks: the default pool inside a task
// is serial.
func (in *Interpreter) newTaskThread(ctx context.Context, name string, print func(string)) *starlark.Thread {
	t := &starlark.Thread{
		Name:  name,
		Print: func(_ *starlark.Thread, msg string) { print(msg) },
		Load:  in.load,
	}
	t.SetLocal(pools.ContextKey, ctx)
	t.SetLocal(starlib.HostKey, &taskHost{in: in})
	return t
}

// Run executes a script (src may be nil to read filename) with ctx
// cancelling it, and returns its globals.
func (in *Interpreter) Run(ctx context.Context, filename string, src any) (starlark.StringDict, error) {
	text, err := readSource(filename, src)
	if err != nil {
		return nil, err
	}
	thread := in.NewThread(ctx, filename)
	stop := context.AfterFunc(ctx, func() { thread.Cancel(context.Cause(ctx).Error()) })
	defer stop()
	in.sources.Add(filename, text)
	return starlark.ExecFileOptions(in.opts, thread, filename, text, in.predeclared)
}

func readSource(filename string, src any) (string, error) {
	switch s := src.(type) {
	case nil:
		b, err := os.ReadFile(filename)
		if err != nil {
			return "", err
		}
		return string(b), nil
	case string:
		return s, nil
	case []byte:
		return string(s), nil
	case io.Reader:
		b, err := io.ReadAll(s)
		return string(b), err
	}
	return "", fmt.Errorf("invalid source type %T", src)
}

// Close terminates every pool the interpreter started (the default pool
// and those scripts created), so that no worker outlives it.
func (in *Interpreter) Close() error {
	in.mu.Lock()
	ps := in.tracked
	in.tracked = nil
	in.dflt = nil
	client := in.ssh
	in.ssh = nil
	in.mu.Unlock()
	for _, p := range ps {
		p.Terminate()
	}
	if client != nil {
		return client.Close() // closes tunnels and kills remote processes too
	}
	return nil
}

// CheckPoolSpec reports whether spec names a pool kind.
func CheckPoolSpec(spec string) error {
	_, _, err := parsePoolSpec(spec)
	return err
}

const validSpecs = "serial, threads[:N], processes[:N], hosts:DEST1,DEST2[:N]"

// parsePoolSpec parses a pool spec. For hosts, n is the number of workers
// per host (0: the default) and dests lists the ssh destinations. A
// trailing ":N" below 1000 after the last destination is the worker count;
// a destination with a port below 1000 needs an ssh config alias.
func parsePoolSpec(spec string) (kind string, n int, err error) {
	kind, _, _, err = parseSpec(spec)
	return kind, n, err
}

func parseSpec(spec string) (kind string, n int, dests []string, err error) {
	kind, arg, hasArg := strings.Cut(spec, ":")
	if kind == "hosts" {
		if arg == "" {
			return "", 0, nil, fmt.Errorf("pool spec %q: hosts needs at least one destination (valid: %s)", spec, validSpecs)
		}
		if i := strings.LastIndex(arg, ":"); i >= 0 {
			if c, err := strconv.Atoi(arg[i+1:]); err == nil && c < 1000 {
				if c < 1 {
					return "", 0, nil, fmt.Errorf("pool spec %q: worker count must be positive", spec)
				}
				n, arg = c, arg[:i]
			}
		}
		for _, d := range strings.Split(arg, ",") {
			if d = strings.TrimSpace(d); d == "" {
				return "", 0, nil, fmt.Errorf("pool spec %q: empty destination", spec)
			}
			dests = append(dests, d)
		}
		return kind, n, dests, nil
	}
	k, c, err := parseLocalSpec(kind, arg, hasArg, spec)
	return k, c, nil, err
}

func parseLocalSpec(kind, arg string, hasArg bool, spec string) (string, int, error) {
	switch kind {
	case "serial":
		if hasArg {
			return "", 0, fmt.Errorf("pool spec %q: serial takes no count (valid: %s)", spec, validSpecs)
		}
		return kind, 1, nil
	case "threads", "processes":
		if !hasArg {
			return kind, 0, nil
		}
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || n > 4096 {
			return "", 0, fmt.Errorf("pool spec %q: count must be an integer from 1 to 4096 (valid: %s)", spec, validSpecs)
		}
		return kind, n, nil
	}
	return "", 0, fmt.Errorf("unknown pool spec %q (valid: %s)", spec, validSpecs)
}

func (in *Interpreter) track(p *pools.Pool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	// Forget pools that were terminated, so that a loop creating pools does
	// not grow the list without bound.
	live := in.tracked[:0]
	for _, q := range in.tracked {
		if !q.Terminated() {
			live = append(live, q)
		}
	}
	in.tracked = append(live, p)
}

// defaultPool returns the default pool, creating it on first use.
func (in *Interpreter) defaultPool() (*pools.Pool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dflt != nil {
		return in.dflt, nil
	}
	kind, n, dests, err := parseSpec(in.poolSpec)
	if err != nil {
		return nil, err
	}
	if in.inTask {
		kind = "serial"
	}
	if kind == "hosts" {
		p, err := remote.NewPool(context.Background(), in.env, in.sshClientLocked(), remote.PoolOptions{Hosts: dests, Workers: n})
		if err != nil {
			return nil, err
		}
		in.dflt = p
		in.tracked = append(in.tracked, p)
		return p, nil
	}
	if n == 0 {
		n = numCPU()
	}
	var p *pools.Pool
	switch kind {
	case "serial":
		p = pools.NewSerial(in.env)
	case "threads":
		p = pools.NewThreads(in.env, n)
	case "processes":
		if p, err = pools.NewProcesses(in.env, n); err != nil {
			return nil, err
		}
	}
	in.dflt = p
	in.tracked = append(in.tracked, p)
	return p, nil
}

// host is the starlib.Host of the interpreter's own threads.
type host struct{ in *Interpreter }

func (h host) PoolEnv() *pools.Env               { return h.in.env }
func (h host) DefaultPool() (*pools.Pool, error) { return h.in.defaultPool() }
func (h host) Track(p *pools.Pool)               { h.in.track(p) }
func (h host) SSH() *remote.Client               { return h.in.sshClient() }

var (
	_ starlib.Host = host{}
	_ starlib.Host = (*taskHost)(nil)
)

// taskHost is the starlib.Host of a task's thread: its default pool is a
// serial pool of its own.
type taskHost struct {
	in   *Interpreter
	once sync.Once
	dflt *pools.Pool
}

func (h *taskHost) PoolEnv() *pools.Env { return h.in.env }
func (h *taskHost) DefaultPool() (*pools.Pool, error) {
	h.once.Do(func() { h.dflt = pools.NewSerial(h.in.env) })
	return h.dflt, nil
}
func (h *taskHost) Track(p *pools.Pool) { h.in.track(p) }
func (h *taskHost) SSH() *remote.Client { return h.in.sshClient() }

// sshClient returns the interpreter's ssh client, made on first use.
func (in *Interpreter) sshClient() *remote.Client {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.sshClientLocked()
}

func (in *Interpreter) sshClientLocked() *remote.Client {
	if in.ssh == nil {
		in.ssh = remote.NewClient()
	}
	return in.ssh
}

// loadEntry is a module being loaded (globals nil) or loaded.
type loadEntry struct {
	globals starlark.StringDict
	err     error
}

// load implements load(): the module path is relative to the directory of
// the loading file; modules are cached, and a cycle is an error.
func (in *Interpreter) load(thread *starlark.Thread, module string) (starlark.StringDict, error) {
	from := thread.CallFrame(0).Pos.Filename()
	path := module
	if !filepath.IsAbs(path) {
		dir := "."
		if from != "" && !strings.HasPrefix(from, "<") {
			dir = filepath.Dir(from)
		}
		path = filepath.Join(dir, module)
	}
	key, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	in.mu.Lock()
	e, ok := in.modules[key]
	if ok {
		in.mu.Unlock()
		if e.globals == nil && e.err == nil {
			return nil, fmt.Errorf("cannot load %s: import cycle (it is still loading; %s loads it again)", path, from)
		}
		return e.globals, e.err
	}
	e = &loadEntry{}
	in.modules[key] = e
	in.mu.Unlock()

	text, err := os.ReadFile(path)
	if err != nil {
		e.err = fmt.Errorf("cannot load %s: %v", module, err)
		return nil, e.err
	}
	in.sources.Add(path, string(text))
	lt := &starlark.Thread{Name: "load " + path, Print: thread.Print, Load: in.load}
	for _, k := range []string{pools.ContextKey, starlib.HostKey} {
		lt.SetLocal(k, thread.Local(k))
	}
	globals, err := starlark.ExecFileOptions(in.opts, lt, path, text, in.predeclared)
	if err != nil {
		in.mu.Lock()
		delete(in.modules, key) // a failed load may be retried
		in.mu.Unlock()
		return nil, err
	}
	globals.Freeze()
	e.globals = globals
	return globals, nil
}

// PoolEnv returns the environment in which the interpreter's pools run
// tasks, for Go code that builds pools itself (pools.NewThreads,
// remote.NewPool) and runs jobs with functions from this interpreter.
func (in *Interpreter) PoolEnv() *pools.Env { return in.env }
