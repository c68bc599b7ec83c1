package remote

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// stderrTail is how much of a stream's standard error is kept.
const stderrTail = 64 << 10

// A Stream is a remote process whose standard input and output are the two
// directions of the stream, started by [Host.Exec]: the channel a remote
// pathos-star worker speaks its protocol over. Reads return the process's
// standard output, writes go to its standard input. The last 64 KiB of its
// standard error are kept for error messages.
//
// Read from one goroutine and write from another as with any connection;
// the other methods are safe for concurrent use. The output must be read
// to its end (or the stream closed) for Wait to return, because ssh flow
// control stops a process whose output nobody reads.
type Stream struct {
	c         *command
	stdin     io.WriteCloser
	stdout    *bufio.Reader
	stderr    *tailBuffer
	closeOnce sync.Once
	wmu       sync.Mutex // held by Write and CloseWrite; see Write
}

// Exec starts cmd on the host with /bin/sh -c, connected to the returned
// Stream. ctx bounds only the start. Closing the Stream (or CloseWrite)
// gives the process end-of-file on its standard input; it is not killed.
func (h *Host) Exec(ctx context.Context, cmd string) (*Stream, error) {
	s := &Stream{stderr: &tailBuffer{max: stderrTail}}
	c, out, in, err := h.startCommand(ctx, cmd, nil, nil, s.stderr)
	if err != nil {
		return nil, err
	}
	s.c, s.stdin = c, in
	type pidResult struct {
		pid int
		err error
	}
	br := bufio.NewReaderSize(out, maxNoise)
	ch := make(chan pidResult, 1)
	go func() {
		for {
			line, err := br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				ch <- pidResult{err: fmt.Errorf("no process ID line in the first %d bytes of output", maxNoise)}
				return
			}
			if err != nil {
				ch <- pidResult{err: err}
				return
			}
			if pid, ok := parsePidLine(line[:len(line)-1]); ok {
				ch <- pidResult{pid: pid}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			select { // for the stderr it wrote
			case <-c.done:
			case <-time.After(h.killWait):
			}
			c.sess.Close()
			return nil, fmt.Errorf("%s: the remote shell did not start the command: %v (stderr: %q)", c.what(), r.err, s.stderr.Bytes())
		}
		h.mu.Lock() // Host.Close reads pid
		c.pid = r.pid
		h.mu.Unlock()
	case <-ctx.Done():
		// As in startCommand: kill the command if it is running.
		c.killed.Store(true)
		c.sess.Signal(gossh.SIGKILL)
		timeout := time.NewTimer(h.killWait)
		defer timeout.Stop()
		select {
		case r := <-ch:
			if r.err == nil {
				h.mu.Lock()
				c.pid = r.pid
				h.mu.Unlock()
				c.kill()
			}
		case <-timeout.C:
		}
		c.sess.Close()
		return nil, fmt.Errorf("%s: %w", c.what(), ctx.Err())
	}
	s.stdout = br
	return s, nil
}

// Read reads the process's standard output.
func (s *Stream) Read(p []byte) (int, error) { return s.stdout.Read(p) }

// Write writes to the process's standard input.
func (s *Stream) Write(p []byte) (int, error) {
	// x/crypto/ssh does not allow closing a channel's input while a write
	// is in progress (a data race on its EOF flag): wmu keeps them apart.
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.stdin.Write(p)
}

// CloseWrite closes the process's standard input, so that it reads
// end-of-file; its output can still be read.
func (s *Stream) CloseWrite() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err := s.stdin.Close()
	if err == io.EOF {
		err = nil
	}
	return err
}

// Close closes the process's standard input and the stream. The process
// reads end-of-file; further reads return io.EOF. Close does not wait for
// the process to end, and is safe to call more than once.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		// A write blocked on flow control holds wmu: then skip the EOF and
		// close the channel, which ends the write with an error.
		if s.wmu.TryLock() {
			s.stdin.Close()
			s.wmu.Unlock()
		}
		s.c.sess.Close()
	})
	return nil
}

// Pid returns the process ID of the command on the remote host.
func (s *Stream) Pid() int { return s.c.pid }

// Stderr returns the last 64 KiB the process wrote to its standard error.
func (s *Stream) Stderr() []byte { return s.stderr.Bytes() }

// Done returns a channel that is closed when the session has ended.
func (s *Stream) Done() <-chan struct{} { return s.c.done }

// Kill kills the process group with SIGKILL, like [Process.Kill].
func (s *Stream) Kill() error { return s.c.kill() }

// Wait waits for the process to end and returns its exit status with the
// tail of its standard error (Stdout is nil: it was the stream). After
// Close the exit status may be unknown, which is an error. When ctx is done
// first, Wait returns ctx's error and the process keeps running.
func (s *Stream) Wait(ctx context.Context) (*Result, error) {
	select {
	case <-s.c.done:
		return s.c.result(nil, s.stderr.Bytes())
	case <-ctx.Done():
		return nil, fmt.Errorf("%s (pid %d): wait: %w", s.c.what(), s.c.pid, ctx.Err())
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}
