package starlib

// The ssh module: ssh.connect, ssh.run and ssh.copy, and the values they
// return (ssh_host, ssh_result, ssh_process).
//
// Every builtin reaches hosts through the interpreter's one remote.Client
// (Host.SSH), so a script that connects to a host several times, or runs
// ssh.run in a loop, uses one ssh connection per destination; the
// connections, with their tunnels and the remote processes still running,
// are closed when the interpreter closes. Blocking calls take the thread's
// context (pools.ContextOf), so cancelling the script (Ctrl-C) interrupts
// them and kills the remote command.
//
// None of these values can be serialized: a function that a pool sends to
// a worker may call ssh.run and return the result's fields, but cannot take
// an ssh_host or an ssh_result as an argument or return one.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"

	"github.com/pathos-star/pathos-star/pools"
	"github.com/pathos-star/pathos-star/remote"
)

// SSHModule returns the ssh module: connect, run and copy.
//
//	h = ssh.connect(dest)                       # an ssh_host
//	r = ssh.run(dest, cmd, timeout=None, stdin=None)  # an ssh_result
//	ssh.copy(src, dst)                          # scp style, one side "host:path"
//
// A destination is "[user@]host[:port]" or an alias of the ssh client
// configuration (~/.ssh/config, or the file named by PATHOS_STAR_SSH_CONFIG).
func SSHModule() *starlarkstruct.Module {
	return &starlarkstruct.Module{Name: "ssh", Members: starlark.StringDict{
		"connect": starlark.NewBuiltin("ssh.connect", sshConnect),
		"run":     starlark.NewBuiltin("ssh.run", sshRun),
		"copy":    starlark.NewBuiltin("ssh.copy", sshCopy),
	}}
}

// sshClient returns the interpreter's ssh client.
func sshClient(thread *starlark.Thread, who string) (*remote.Client, error) {
	h, err := hostOf(thread, who)
	if err != nil {
		return nil, err
	}
	return h.SSH(), nil
}

// sshError is an error of the remote package restated for a builtin: its
// message starts with the builtin's name and names the host. Unwrap gives
// the original error.
type sshError struct {
	msg string
	err error
}

func (e *sshError) Error() string { return e.msg }
func (e *sshError) Unwrap() error { return e.err }

// wrapErr restates err, an error from the remote package about dest, for
// the builtin who: "who: <message>", where the message loses the package's
// "ssh: " prefix and gains the quoted destination if it lacks it.
func wrapErr(who, dest string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "ssh: ")
	if !strings.Contains(msg, strconv.Quote(dest)) {
		msg = strconv.Quote(dest) + ": " + msg
	}
	return &sshError{msg: who + ": " + msg, err: err}
}

// connectErr is wrapErr for a failed connect: `who: "dest": why`.
func connectErr(who, dest string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "ssh: ")
	msg = strings.TrimPrefix(msg, "connect to ")
	if !strings.Contains(msg, strconv.Quote(dest)) {
		msg = strconv.Quote(dest) + ": " + msg
	}
	return &sshError{msg: who + ": " + msg, err: err}
}

// quoteCmd quotes a command for an error message, shortened if long.
func quoteCmd(cmd string) string {
	const max = 60
	if len(cmd) > max {
		cmd = truncUTF8(cmd, max) + "..."
	}
	return strconv.Quote(cmd)
}

// truncUTF8 returns at most n bytes of s, not cutting a character in two.
func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// connect connects to dest for the builtin who.
func connect(ctx context.Context, client *remote.Client, who, dest string) (*remote.Host, error) {
	if dest == "" {
		return nil, fmt.Errorf("%s: empty destination (want [user@]host[:port] or an ssh config alias)", who)
	}
	h, err := client.Connect(ctx, dest)
	if err != nil {
		return nil, connectErr(who, dest, err)
	}
	return h, nil
}

// ssh.connect(dest)
func sshConnect(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var dest string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "dest", &dest); err != nil {
		return nil, err
	}
	client, err := sshClient(thread, b.Name())
	if err != nil {
		return nil, err
	}
	conn, err := connect(pools.ContextOf(thread), client, b.Name(), dest)
	if err != nil {
		return nil, err
	}
	return &SSHHost{client: client, dest: dest, name: conn.Config().String(), conn: conn}, nil
}

// ssh.run(dest, cmd, timeout=None, stdin=None)
func sshRun(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var dest, cmd string
	var timeout, stdin starlark.Value = starlark.None, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "dest", &dest, "cmd", &cmd, "timeout?", &timeout, "stdin?", &stdin); err != nil {
		return nil, err
	}
	d, in, err := runOptions(b.Name(), timeout, stdin)
	if err != nil {
		return nil, err
	}
	client, err := sshClient(thread, b.Name())
	if err != nil {
		return nil, err
	}
	ctx := pools.ContextOf(thread)
	conn, err := connect(ctx, client, b.Name(), dest)
	if err != nil {
		return nil, err
	}
	return runCommand(ctx, b.Name(), conn, cmd, in, d)
}

// ssh.copy(src, dst)
func sshCopy(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var src, dst string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "src", &src, "dst", &dst); err != nil {
		return nil, err
	}
	client, err := sshClient(thread, b.Name())
	if err != nil {
		return nil, err
	}
	if err := client.Copy(pools.ContextOf(thread), src, dst); err != nil {
		return nil, &sshError{msg: b.Name() + ": " + strings.TrimPrefix(err.Error(), "ssh: "), err: err}
	}
	return starlark.None, nil
}

// runOptions unpacks the timeout= and stdin= of run.
func runOptions(who string, timeout, stdin starlark.Value) (time.Duration, []byte, error) {
	d, err := seconds(who, "timeout", timeout)
	if err != nil {
		return 0, nil, err
	}
	switch s := stdin.(type) {
	case starlark.NoneType:
		return d, nil, nil
	case starlark.String:
		return d, []byte(s), nil
	case starlark.Bytes:
		return d, []byte(s), nil
	}
	return 0, nil, fmt.Errorf("%s: stdin must be a string, bytes or None, got %s", who, stdin.Type())
}

// runCommand runs cmd on conn with the input in, killing it after d (0:
// no limit).
func runCommand(ctx context.Context, who string, conn *remote.Host, cmd string, in []byte, d time.Duration) (starlark.Value, error) {
	rctx := ctx
	if d > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	res, err := conn.Run(rctx, cmd, in)
	if err != nil {
		if d > 0 && ctx.Err() == nil && errors.Is(rctx.Err(), context.DeadlineExceeded) {
			return nil, &sshError{
				msg: fmt.Sprintf("%s: command %s on %q timed out after %v; the remote process was killed", who, quoteCmd(cmd), conn.Name(), d),
				err: err,
			}
		}
		return nil, wrapErr(who, conn.Name(), err)
	}
	return newSSHResult(res), nil
}

// An SSHHost is the Starlark value of ssh.connect(dest), of type
// "ssh_host": a connection to one destination, with the attribute dest
// (the destination as given) and the methods
//
//	run(cmd, timeout=None, stdin=None)   run cmd with /bin/sh -c and return
//	        its ssh_result; stdin (a string or bytes) is empty unless given;
//	        after timeout seconds the remote process is killed and run fails
//	launch(cmd)                          start cmd in the background: an ssh_process
//	copy(src, dst)                       copy a file or a directory tree, scp
//	        style: one side is remote, written ":path" or "dest:path" (dest
//	        must be this host); write "./:x" for a local file named ":x"
//	tunnel(remote_port, local_port=0, remote_host="localhost")
//	        forward a local port through this host: a tunnel
//	close()                              close the connection
//
// The connection is the interpreter's connection to that destination,
// shared with every other ssh_host, ssh.run and tunnel of it. If it dies
// (the network, the server), the next call dials again. h.close() closes
// it for all of them, with its tunnels and remote processes, and makes
// later calls on h fail.
//
// An SSHHost is safe for concurrent use. It is not hashable and cannot be
// serialized.
type SSHHost struct {
	client *remote.Client
	dest   string // as given to ssh.connect
	name   string // "user@host:port", resolved

	mu     sync.Mutex
	conn   *remote.Host
	closed bool
}

var _ starlark.HasAttrs = (*SSHHost)(nil)

// String returns "<ssh_host user@host:port>".
func (h *SSHHost) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return fmt.Sprintf("<ssh_host %s (closed)>", h.name)
	}
	return fmt.Sprintf("<ssh_host %s>", h.name)
}

// Type returns "ssh_host".
func (h *SSHHost) Type() string { return "ssh_host" }

// Freeze does nothing: an ssh_host has no Starlark state.
func (h *SSHHost) Freeze() {}

// Truth returns True.
func (h *SSHHost) Truth() starlark.Bool { return true }

// Hash fails: an ssh_host is not hashable.
func (h *SSHHost) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: ssh_host") }

// Dest returns the destination as given to ssh.connect.
func (h *SSHHost) Dest() string { return h.dest }

// AttrNames returns the attributes of an ssh_host.
func (h *SSHHost) AttrNames() []string {
	return []string{"close", "copy", "dest", "launch", "pool", "run", "tunnel"}
}

// Attr returns the attribute name: dest or a method.
func (h *SSHHost) Attr(name string) (starlark.Value, error) {
	var fn func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)
	switch name {
	case "dest":
		return starlark.String(h.dest), nil
	case "run":
		fn = h.run
	case "launch":
		fn = h.launch
	case "copy":
		fn = h.copy
	case "tunnel":
		fn = h.tunnel
	case "close":
		fn = h.close
	case "pool":
		fn = h.pool
	default:
		return nil, nil
	}
	return starlark.NewBuiltin(name, fn).BindReceiver(h), nil
}

// pool is h.pool(workers=None): a remote pool of workers on this host
// (see pool.remote).
func (h *SSHHost) pool(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var workers starlark.Value = starlark.None
	if err := starlark.UnpackArgs("ssh_host.pool", args, kwargs, "workers?", &workers); err != nil {
		return nil, err
	}
	kw := []starlark.Tuple{
		{starlark.String("hosts"), starlark.NewList([]starlark.Value{starlark.String(h.dest)})},
		{starlark.String("workers"), workers},
	}
	return newRemote(thread, starlark.NewBuiltin("ssh_host.pool", newRemote), nil, kw)
}

// host returns the live connection, dialling again if it has died.
func (h *SSHHost) host(ctx context.Context, who string) (*remote.Host, error) {
	h.mu.Lock()
	closed, conn := h.closed, h.conn
	h.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("%s: %q: the host was closed (by close())", who, h.dest)
	}
	if conn.Err() == nil {
		return conn, nil
	}
	conn, err := connect(ctx, h.client, who, h.dest)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, fmt.Errorf("%s: %q: the host was closed (by close())", who, h.dest)
	}
	h.conn = conn
	return conn, nil
}

// h.run(cmd, timeout=None, stdin=None)
func (h *SSHHost) run(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	const who = "ssh_host.run"
	var cmd string
	var timeout, stdin starlark.Value = starlark.None, starlark.None
	if err := starlark.UnpackArgs(who, args, kwargs, "cmd", &cmd, "timeout?", &timeout, "stdin?", &stdin); err != nil {
		return nil, err
	}
	d, in, err := runOptions(who, timeout, stdin)
	if err != nil {
		return nil, err
	}
	ctx := pools.ContextOf(thread)
	conn, err := h.host(ctx, who)
	if err != nil {
		return nil, err
	}
	return runCommand(ctx, who, conn, cmd, in, d)
}

// h.launch(cmd)
func (h *SSHHost) launch(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	const who = "ssh_host.launch"
	var cmd string
	if err := starlark.UnpackArgs(who, args, kwargs, "cmd", &cmd); err != nil {
		return nil, err
	}
	ctx := pools.ContextOf(thread)
	conn, err := h.host(ctx, who)
	if err != nil {
		return nil, err
	}
	p, err := conn.Start(ctx, cmd)
	if err != nil {
		return nil, wrapErr(who, conn.Name(), err)
	}
	return &SSHProcess{cmd: cmd, host: conn.Name(), p: p}, nil
}

// h.copy(src, dst)
func (h *SSHHost) copy(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	const who = "ssh_host.copy"
	var src, dst string
	if err := starlark.UnpackArgs(who, args, kwargs, "src", &src, "dst", &dst); err != nil {
		return nil, err
	}
	sPath, sRemote, err := h.side(who, src)
	if err != nil {
		return nil, err
	}
	dPath, dRemote, err := h.side(who, dst)
	if err != nil {
		return nil, err
	}
	switch {
	case sRemote && dRemote:
		return nil, fmt.Errorf("%s: copy %q to %q: both sides are remote; copy through a local file", who, src, dst)
	case !sRemote && !dRemote:
		return nil, fmt.Errorf("%s: copy %q to %q: neither side is remote (write :path for a path on %s)", who, src, dst, h.dest)
	}
	ctx := pools.ContextOf(thread)
	conn, err := h.host(ctx, who)
	if err != nil {
		return nil, err
	}
	if sRemote {
		err = conn.Download(ctx, sPath, dst)
	} else {
		err = conn.Upload(ctx, src, dPath)
	}
	if err != nil {
		return nil, wrapErr(who, conn.Name(), err)
	}
	return starlark.None, nil
}

// side parses one side of h.copy: ":path" is a path on h, "dest:path" a
// path on dest, which must be h's destination; anything else is local.
func (h *SSHHost) side(who, s string) (path string, isRemote bool, err error) {
	if rest, ok := strings.CutPrefix(s, ":"); ok {
		return rest, true, nil
	}
	dest, file, ok := remote.SplitRemote(s)
	if !ok {
		return "", false, nil
	}
	if dest != h.dest {
		hc, err := h.client.Resolve(dest)
		if err != nil {
			return "", false, fmt.Errorf("%s: %q: %s", who, s, strings.TrimPrefix(err.Error(), "ssh: "))
		}
		if hc.String() != h.name {
			return "", false, fmt.Errorf("%s: %q names the host %s, not this host %s (write :path for a path on this host, or use ssh.copy)", who, s, hc, h.name)
		}
	}
	return file, true, nil
}

// h.tunnel(remote_port, local_port=0, remote_host="localhost")
func (h *SSHHost) tunnel(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	const who = "ssh_host.tunnel"
	var spec tunnelSpec
	if err := spec.unpack(who, args, kwargs, false); err != nil {
		return nil, err
	}
	ctx := pools.ContextOf(thread)
	conn, err := h.host(ctx, who)
	if err != nil {
		return nil, err
	}
	return spec.open(ctx, who, h.dest, conn)
}

// h.close()
func (h *SSHHost) close(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	const who = "ssh_host.close"
	if err := starlark.UnpackArgs(who, args, kwargs); err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return starlark.None, nil
	}
	h.closed = true
	conn := h.conn
	h.mu.Unlock()
	if err := conn.Close(); err != nil {
		return nil, wrapErr(who, conn.Name(), err)
	}
	return starlark.None, nil
}

// An SSHResult is the outcome of a remote command, of type "ssh_result",
// with the attributes stdout and stderr (strings holding the bytes the
// command wrote) and code (its exit status). It is immutable, so it is
// safe for concurrent use, hashable, and equal to another ssh_result with
// the same attributes. It cannot be serialized: return its attributes
// from a mapped function.
type SSHResult struct {
	stdout, stderr starlark.String
	code           int
}

var (
	_ starlark.HasAttrs   = (*SSHResult)(nil)
	_ starlark.Comparable = (*SSHResult)(nil)
)

func newSSHResult(r *remote.Result) *SSHResult {
	return &SSHResult{stdout: starlark.String(r.Stdout), stderr: starlark.String(r.Stderr), code: r.Code}
}

// String returns `ssh_result(code=0, stdout="...", stderr="...")`, with
// long outputs cut short.
func (r *SSHResult) String() string {
	return fmt.Sprintf("ssh_result(code=%d, stdout=%s, stderr=%s)", r.code, shortRepr(r.stdout), shortRepr(r.stderr))
}

// shortRepr quotes s, or its beginning and its length if it is long.
func shortRepr(s starlark.String) string {
	const max = 64
	if len(s) <= max {
		return s.String()
	}
	return fmt.Sprintf("<%d bytes: %s...>", len(s), starlark.String(truncUTF8(string(s), max)).String())
}

// Type returns "ssh_result".
func (r *SSHResult) Type() string { return "ssh_result" }

// Freeze does nothing: an ssh_result is immutable.
func (r *SSHResult) Freeze() {}

// Truth returns True.
func (r *SSHResult) Truth() starlark.Bool { return true }

// Hash returns a hash of the attributes.
func (r *SSHResult) Hash() (uint32, error) {
	h1, _ := r.stdout.Hash()
	h2, _ := r.stderr.Hash()
	return h1 ^ h2*31 ^ uint32(r.code)*1000003, nil
}

// CompareSameType compares the attributes; only == and != are defined.
func (r *SSHResult) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	o := y.(*SSHResult)
	eq := r.code == o.code && r.stdout == o.stdout && r.stderr == o.stderr
	switch op {
	case syntax.EQL:
		return eq, nil
	case syntax.NEQ:
		return !eq, nil
	}
	return false, fmt.Errorf("%s not implemented for ssh_result", op)
}

// AttrNames returns code, stderr and stdout.
func (r *SSHResult) AttrNames() []string { return []string{"code", "stderr", "stdout"} }

// Attr returns the attribute name.
func (r *SSHResult) Attr(name string) (starlark.Value, error) {
	switch name {
	case "stdout":
		return r.stdout, nil
	case "stderr":
		return r.stderr, nil
	case "code":
		return starlark.MakeInt(r.code), nil
	}
	return nil, nil
}

// An SSHProcess is the Starlark value of h.launch(cmd), of type
// "ssh_process": a command running in the background on a host, with the
// attributes pid (its remote process ID) and cmd, and the methods
//
//	running()            True until the command has finished
//	wait(timeout=None)   wait until it finishes: True, or False if the
//	                     timeout expired first (the command keeps running)
//	response()           wait until it finishes and return its ssh_result;
//	                     an error if it was killed
//	kill()               kill its remote process group (nothing if it has
//	                     finished)
//
// The output is kept in memory until response() returns it. The process is
// killed when its host is closed, and when the interpreter closes. An
// SSHProcess is safe for concurrent use. It is not hashable and cannot be
// serialized.
type SSHProcess struct {
	cmd  string
	host string // the destination as given
	p    *remote.Process
}

var _ starlark.HasAttrs = (*SSHProcess)(nil)

// String returns `<ssh_process pid=N "cmd" on dest running>` (or finished).
func (p *SSHProcess) String() string {
	state := "finished"
	if p.p.Running() {
		state = "running"
	}
	return fmt.Sprintf("<ssh_process pid=%d %s on %s %s>", p.p.Pid(), quoteCmd(p.cmd), p.host, state)
}

// Type returns "ssh_process".
func (p *SSHProcess) Type() string { return "ssh_process" }

// Freeze does nothing: an ssh_process has no Starlark state.
func (p *SSHProcess) Freeze() {}

// Truth returns True.
func (p *SSHProcess) Truth() starlark.Bool { return true }

// Hash fails: an ssh_process is not hashable.
func (p *SSHProcess) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: ssh_process") }

// AttrNames returns the attributes of an ssh_process.
func (p *SSHProcess) AttrNames() []string {
	return []string{"cmd", "kill", "pid", "response", "running", "wait"}
}

// Attr returns the attribute name: cmd, pid or a method.
func (p *SSHProcess) Attr(name string) (starlark.Value, error) {
	var fn func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)
	switch name {
	case "cmd":
		return starlark.String(p.cmd), nil
	case "pid":
		return starlark.MakeInt(p.p.Pid()), nil
	case "running":
		fn = func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs("ssh_process.running", args, kwargs); err != nil {
				return nil, err
			}
			return starlark.Bool(p.p.Running()), nil
		}
	case "response":
		fn = p.response
	case "kill":
		fn = p.kill
	case "wait":
		fn = p.wait
	default:
		return nil, nil
	}
	return starlark.NewBuiltin(name, fn).BindReceiver(p), nil
}

func (p *SSHProcess) response(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	const who = "ssh_process.response"
	if err := starlark.UnpackArgs(who, args, kwargs); err != nil {
		return nil, err
	}
	res, err := p.p.Wait(pools.ContextOf(thread))
	if err != nil {
		return nil, wrapErr(who, p.host, err)
	}
	return newSSHResult(res), nil
}

func (p *SSHProcess) kill(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	const who = "ssh_process.kill"
	if err := starlark.UnpackArgs(who, args, kwargs); err != nil {
		return nil, err
	}
	if err := p.p.Kill(); err != nil {
		return nil, wrapErr(who, p.host, err)
	}
	return starlark.None, nil
}

func (p *SSHProcess) wait(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	const who = "ssh_process.wait"
	var tv starlark.Value = starlark.None
	if err := starlark.UnpackArgs(who, args, kwargs, "timeout?", &tv); err != nil {
		return nil, err
	}
	d, err := seconds(who, "timeout", tv)
	if err != nil {
		return nil, err
	}
	var expired <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	ctx := pools.ContextOf(thread)
	select {
	case <-p.p.Done():
		return starlark.True, nil
	case <-expired:
		return starlark.False, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: command %s on %q (pid %d): %v", who, quoteCmd(p.cmd), p.host, p.p.Pid(), context.Cause(ctx))
	}
}
