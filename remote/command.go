package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// pidMarker starts the line the wrapper prints before it execs the command.
const pidMarker = "pathos-star-pid:"

// maxNoise bounds what a login shell may print before the pid line.
const maxNoise = 64 << 10

// wrapCommand returns the remote command line that runs cmd with /bin/sh
// after printing the process ID on stdout. Both execs keep the process ID,
// which is also the process group ID, since sshd makes every session a new
// process session.
func wrapCommand(cmd string) string {
	return `exec /bin/sh -c 'echo "` + pidMarker + `$$"; exec /bin/sh -c "$1"' pathos-star ` + shellQuote(cmd)
}

// A Result is the outcome of a remote command that ran to its end.
type Result struct {
	Stdout []byte // everything the command wrote to its standard output
	Stderr []byte // everything it wrote to its standard error
	Code   int    // its exit status
}

// command is one remote process started with wrapCommand.
type command struct {
	h      *Host
	cmd    string
	sess   *gossh.Session
	pid    int
	done   chan struct{} // closed when the session has ended
	err    error         // from Session.Wait; read after done
	killed atomic.Bool
}

func (c *command) finished() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// what names the command for error messages.
func (c *command) what() string {
	return fmt.Sprintf("ssh: command %s on %q", shortCmd(c.cmd), c.h.name)
}

// startCommand opens a session and starts cmd in it. stdout receives the
// command's output after the pid line; if stdout is nil the caller reads
// outPipe (the raw channel, pid line included). It returns when the remote
// process ID is known (or, with outPipe, right after the start).
func (h *Host) startCommand(ctx context.Context, cmd string, stdin []byte, stdout, stderr io.Writer) (*command, io.Reader, io.WriteCloser, error) {
	what := fmt.Sprintf("ssh: command %s on %q", shortCmd(cmd), h.name)
	sess, err := h.newSession(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	c := &command{h: h, cmd: cmd, sess: sess, done: make(chan struct{})}
	fail := func(err error) (*command, io.Reader, io.WriteCloser, error) {
		sess.Close()
		return nil, nil, nil, fmt.Errorf("%s: %w", what, err)
	}

	var pw *pidWriter
	var outPipe io.Reader
	if stdout != nil {
		pw = &pidWriter{out: stdout, found: make(chan struct{})}
		sess.Stdout = pw
	} else if outPipe, err = sess.StdoutPipe(); err != nil {
		return fail(err)
	}
	sess.Stderr = stderr
	stdinPipe, err := sess.StdinPipe()
	if err != nil {
		return fail(err)
	}
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return fail(fmt.Errorf("connection closed"))
	}
	h.cmds[c] = struct{}{} // from now on Host.Close sees it
	h.mu.Unlock()
	if err := sess.Start(wrapCommand(cmd)); err != nil {
		h.mu.Lock()
		delete(h.cmds, c)
		h.mu.Unlock()
		return fail(err)
	}
	if stdin != nil {
		go func() {
			// A command that exits without reading all its input is not an
			// error, as with a pipe.
			stdinPipe.Write(stdin)
			stdinPipe.Close()
		}()
	}
	go func() {
		c.err = sess.Wait()
		sess.Close()
		close(c.done)
		h.mu.Lock()
		delete(h.cmds, c)
		h.mu.Unlock()
	}()

	if pw == nil {
		return c, outPipe, stdinPipe, nil
	}
	found := func() (*command, io.Reader, io.WriteCloser, error) {
		h.mu.Lock() // Host.Close reads pid
		c.pid = pw.pid
		h.mu.Unlock()
		return c, nil, stdinPipe, nil
	}
	select {
	case <-pw.found:
		return found()
	case <-c.done:
		// A quick command may have ended already; its output is all
		// copied by now.
		select {
		case <-pw.found:
			return found()
		default:
		}
		if pw.err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %v", what, pw.err)
		}
		return nil, nil, nil, fmt.Errorf("%s: the remote shell did not start the command: %v", what, c.exitError())
	case <-ctx.Done():
		// The command may be running already: wait a little for its
		// process ID, so that it can be killed like any other.
		c.killed.Store(true)
		sess.Signal(gossh.SIGKILL)
		timeout := time.NewTimer(h.killWait)
		defer timeout.Stop()
		select {
		case <-pw.found:
			h.mu.Lock()
			c.pid = pw.pid
			h.mu.Unlock()
			c.kill()
		case <-c.done:
		case <-timeout.C:
		}
		sess.Close()
		return nil, nil, nil, fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// exitError describes how the session ended, for error messages.
func (c *command) exitError() error {
	if c.err == nil {
		return errors.New("exit status 0")
	}
	if lost := c.h.lostReason(); lost != "" {
		return errors.New(lost)
	}
	return c.err
}

// result turns the end of the session into a Result, or an error if the
// command did not exit by itself.
func (c *command) result(stdout, stderr []byte) (*Result, error) {
	r := &Result{Stdout: stdout, Stderr: stderr}
	var ee *gossh.ExitError
	switch {
	case c.err == nil:
		return r, nil
	case errors.As(c.err, &ee) && ee.Signal() == "":
		r.Code = ee.ExitStatus()
		return r, nil
	case errors.As(c.err, &ee):
		r.Code = ee.ExitStatus()
		if c.killed.Load() {
			return r, fmt.Errorf("%s (pid %d): killed", c.what(), c.pid)
		}
		return r, fmt.Errorf("%s (pid %d): killed by signal %s", c.what(), c.pid, ee.Signal())
	}
	r.Code = -1
	if c.killed.Load() {
		return r, fmt.Errorf("%s (pid %d): killed", c.what(), c.pid)
	}
	if lost := c.h.lostReason(); lost != "" {
		return r, fmt.Errorf("%s (pid %d): %s", c.what(), c.pid, lost)
	}
	return r, fmt.Errorf("%s (pid %d): session ended without an exit status: %v", c.what(), c.pid, c.err)
}

// kill kills the remote process group and waits (boundedly) for the
// session to end. It first asks through the session, which works for
// logins other than root, then kills by process ID from a second session.
func (c *command) kill() error {
	if c.finished() {
		return nil
	}
	c.killed.Store(true)
	c.sess.Signal(gossh.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), c.h.killWait)
	defer cancel()
	var err error
	if c.pid > 0 {
		err = c.h.killPids(ctx, c.pid)
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		c.sess.Close()
		if err == nil {
			err = fmt.Errorf("%s (pid %d): still running after kill: %w", c.what(), c.pid, ctx.Err())
		}
		return err
	}
}

// Run runs cmd on the host with /bin/sh -c and returns its output and exit
// status. The command reads stdin, or an empty input when stdin is nil. A
// non-zero exit status is a Result, not an error; a command killed by a
// signal, or a connection lost before it ends, is an error. When ctx is
// done, Run kills the remote process group and returns ctx's error.
func (h *Host) Run(ctx context.Context, cmd string, stdin []byte) (*Result, error) {
	if stdin == nil {
		stdin = []byte{}
	}
	var stdout, stderr bytes.Buffer
	c, _, _, err := h.startCommand(ctx, cmd, stdin, &stdout, &stderr)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.done:
		return c.result(stdout.Bytes(), stderr.Bytes())
	case <-ctx.Done():
		c.kill()
		return nil, fmt.Errorf("%s (pid %d): %w", c.what(), c.pid, ctx.Err())
	}
}

// A Process is a command running in the background on a host, started by
// [Host.Start]. Its output is collected in memory until Wait returns it. A
// Process is safe for concurrent use by several goroutines.
type Process struct {
	c              *command
	stdout, stderr lockedBuffer
}

// Start starts cmd on the host with /bin/sh -c and returns without waiting
// for it to finish. The command's standard input is empty. ctx bounds only
// the start: cancelling it later does not stop the process; Kill does.
func (h *Host) Start(ctx context.Context, cmd string) (*Process, error) {
	p := new(Process)
	c, _, _, err := h.startCommand(ctx, cmd, []byte{}, &p.stdout, &p.stderr)
	if err != nil {
		return nil, err
	}
	p.c = c
	return p, nil
}

// Pid returns the process ID of the command on the remote host.
func (p *Process) Pid() int { return p.c.pid }

// Running reports whether the command has not finished yet.
func (p *Process) Running() bool { return !p.c.finished() }

// Done returns a channel that is closed when the command has finished.
func (p *Process) Done() <-chan struct{} { return p.c.done }

// Wait waits for the command to finish and returns its output and exit
// status, like [Host.Run]. If the process was killed, Wait returns what
// it had written together with an error. When ctx is done first, Wait
// returns ctx's error and the process keeps running.
func (p *Process) Wait(ctx context.Context) (*Result, error) {
	select {
	case <-p.c.done:
		return p.c.result(p.stdout.Bytes(), p.stderr.Bytes())
	case <-ctx.Done():
		return nil, fmt.Errorf("%s (pid %d): wait: %w", p.c.what(), p.c.pid, ctx.Err())
	}
}

// Kill kills the command's remote process group with SIGKILL and waits for
// the remote side to report its end, at most the connect timeout. Killing
// a finished process does nothing.
func (p *Process) Kill() error { return p.c.kill() }

// lockedBuffer is a bytes.Buffer safe for one writer and other readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// pidWriter takes the pid line off the front of a command's output and
// passes the rest to out. Lines before it (noise from the login shell's
// startup files) are dropped. Only the session's stdout copier writes.
type pidWriter struct {
	out   io.Writer
	line  []byte
	found chan struct{} // closed when pid is set
	pid   int
	err   error
}

func (w *pidWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.pid == 0 {
		w.line = append(w.line, p...)
		p = nil
		for w.pid == 0 {
			i := bytes.IndexByte(w.line, '\n')
			if i < 0 {
				if len(w.line) > maxNoise {
					w.err = fmt.Errorf("no process ID line in the first %d bytes of output", maxNoise)
					return 0, w.err
				}
				return n, nil
			}
			line := w.line[:i]
			rest := w.line[i+1:]
			if pid, ok := parsePidLine(line); ok {
				w.pid = pid
				p = rest
				w.line = nil
				close(w.found)
			} else {
				w.line = rest
			}
		}
	}
	if len(p) > 0 {
		if _, err := w.out.Write(p); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func parsePidLine(line []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(bytes.TrimSuffix(line, []byte("\r")), []byte(pidMarker))
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(string(rest))
	return pid, err == nil && pid > 0
}

// shortCmd quotes cmd for an error message, shortened if long.
func shortCmd(cmd string) string {
	const max = 60
	if len(cmd) > max {
		cmd = cmd[:max] + "..."
	}
	return strconv.Quote(cmd)
}
