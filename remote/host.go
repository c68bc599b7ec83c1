package remote

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// A Host is a live ssh connection to one destination, obtained from
// [Client.Connect]. Its methods open sessions on the connection; several may
// run at once. A Host is safe for concurrent use by several goroutines. The
// same Host is returned to every Connect of its destination, so Close
// closes it for all of them; the next Connect dials again.
type Host struct {
	c    *Client
	name string // the destination as given to Connect
	key  string // connection cache key: user@host:port [via key]
	seq  uint64 // creation order within the client
	cfg  *HostConfig
	conn *gossh.Client
	via  *Host // jump host, or nil

	done chan struct{} // closed when the connection has ended

	mu       sync.Mutex
	err      error // why the connection ended
	closing  bool
	cmds     map[*command]struct{}
	tunnels  map[*Tunnel]struct{}
	killWait time.Duration // bound on killing remote processes
}

func newHost(c *Client, name, key string, seq uint64, hc *HostConfig, conn *gossh.Client, via *Host) *Host {
	h := &Host{
		c:        c,
		name:     name,
		key:      key,
		seq:      seq,
		cfg:      hc,
		conn:     conn,
		via:      via,
		done:     make(chan struct{}),
		cmds:     make(map[*command]struct{}),
		tunnels:  make(map[*Tunnel]struct{}),
		killWait: hc.ConnectTimeout,
	}
	if h.killWait <= 0 {
		h.killWait = c.connectTimeout
	}
	go func() {
		err := conn.Wait()
		h.mu.Lock()
		if h.err == nil {
			if err == nil || h.closing {
				h.err = fmt.Errorf("ssh: connection to %q closed", name)
			} else {
				h.err = fmt.Errorf("ssh: connection to %q lost: %v", name, err)
			}
		}
		// Closing done under the lock means Tunnel either registers
		// before (and is closed below) or sees the connection dead.
		close(h.done)
		tunnels := h.tunnelList()
		h.mu.Unlock()
		c.forget(h)
		for _, t := range tunnels {
			t.Close()
		}
	}()
	if hc.ServerAliveInterval > 0 {
		go h.keepalive(hc.ServerAliveInterval, hc.ServerAliveCountMax)
	}
	return h
}

// Name returns the destination as it was given to Connect.
func (h *Host) Name() string { return h.name }

// Config returns the resolved configuration of the connection. The caller
// must not modify it.
func (h *Host) Config() *HostConfig { return h.cfg }

// Done returns a channel that is closed when the connection has ended,
// closed or lost.
func (h *Host) Done() <-chan struct{} { return h.done }

// Err returns nil while the connection is up, and afterwards why it ended.
func (h *Host) Err() error {
	select {
	case <-h.done:
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.err
	default:
		return nil
	}
}

func (h *Host) alive() bool {
	select {
	case <-h.done:
		return false
	default:
		return true
	}
}

// keepalive sends a keepalive@openssh.com request every interval and
// drops the connection when max requests in a row went unanswered for an
// interval each: only this notices a peer that vanished silently.
func (h *Host) keepalive(interval time.Duration, max int) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	replies := make(chan error, 1)
	pending := false
	missed := 0
	for {
		select {
		case <-h.done:
			return
		case <-tick.C:
		}
		if !pending {
			pending = true
			go func() {
				_, _, err := h.conn.SendRequest("keepalive@openssh.com", true, nil)
				replies <- err
			}()
		}
		timer := time.NewTimer(interval)
		select {
		case <-h.done:
			timer.Stop()
			return
		case err := <-replies:
			timer.Stop()
			pending = false
			if err != nil {
				return // the connection is closing anyway
			}
			missed = 0
		case <-timer.C:
			missed++
			if missed >= max {
				h.mu.Lock()
				if h.err == nil {
					h.err = fmt.Errorf("ssh: connection to %q lost: no answer to %d keepalive requests (ServerAliveInterval %v)", h.name, missed, interval)
				}
				h.mu.Unlock()
				h.conn.Close()
				return
			}
		}
	}
}

// lost returns the reason the connection ended, for an error message, or
// "" while it is up.
func (h *Host) lost() string {
	if err := h.Err(); err != nil {
		return err.Error()
	}
	return ""
}

// lostReason is lost for a caller that saw a session end without an exit
// status: the connection may be going down without having said so yet. It
// asks the server (a keepalive request) to tell a lost connection from a
// live one, waiting at most the kill timeout.
func (h *Host) lostReason() string {
	if s := h.lost(); s != "" {
		return s
	}
	reply := make(chan error, 1)
	go func() {
		_, _, err := h.conn.SendRequest("keepalive@openssh.com", true, nil)
		reply <- err
	}()
	timeout := time.NewTimer(h.killWait)
	defer timeout.Stop()
	select {
	case err := <-reply:
		if err == nil {
			return ""
		}
	case <-h.done:
	case <-timeout.C:
		return ""
	}
	select {
	case <-h.done:
		return h.lost()
	case <-timeout.C:
		return fmt.Sprintf("ssh: connection to %q lost", h.name)
	}
}

// Close kills the remote processes started through h that are still
// running, closes its tunnels and closes the connection. Connections dialled
// through h as a jump host lose their transport and end too. Close is safe
// to call more than once.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		<-h.done
		return nil
	}
	h.closing = true
	var pids []int
	var cmds []*command
	for c := range h.cmds {
		if c.pid > 0 && !c.finished() {
			pids = append(pids, c.pid)
			cmds = append(cmds, c)
		}
	}
	tunnels := h.tunnelList()
	h.mu.Unlock()

	for _, t := range tunnels {
		t.Close()
	}
	if len(pids) > 0 && h.alive() {
		ctx, cancel := context.WithTimeout(context.Background(), h.killWait)
		for _, c := range cmds {
			c.killed.Store(true)
		}
		// Best effort: the connection closes anyway.
		if h.killPids(ctx, pids...) == nil {
			for _, c := range cmds {
				select { // until the remote side has reaped it
				case <-c.done:
				case <-ctx.Done():
				}
			}
		}
		cancel()
	}
	err := h.conn.Close()
	<-h.done
	h.c.forget(h)
	if err != nil && !isClosedError(err) {
		return fmt.Errorf("ssh: close connection to %q: %v", h.name, err)
	}
	return nil
}

func (h *Host) tunnelList() []*Tunnel {
	list := make([]*Tunnel, 0, len(h.tunnels))
	for t := range h.tunnels {
		list = append(list, t)
	}
	return list
}

// newSession opens a session, giving up when ctx is done.
func (h *Host) newSession(ctx context.Context) (*gossh.Session, error) {
	if err := h.Err(); err != nil {
		return nil, err
	}
	type result struct {
		s   *gossh.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := h.conn.NewSession()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			if lost := h.lost(); lost != "" {
				return nil, errors.New(lost)
			}
			hint := ""
			if strings.Contains(r.err.Error(), "administratively prohibited") {
				hint = " (too many sessions open at once? see the server's MaxSessions)"
			}
			return nil, fmt.Errorf("open session: %v%s", r.err, hint)
		}
		return r.s, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// killPids kills the remote process groups (and processes) pids with
// SIGKILL from a new session, since OpenSSH does not deliver signals to
// the sessions of root logins.
func (h *Host) killPids(ctx context.Context, pids ...int) error {
	var groups, single []string
	for _, p := range pids {
		groups = append(groups, "-"+strconv.Itoa(p))
		single = append(single, strconv.Itoa(p))
	}
	script := fmt.Sprintf("kill -9 %s 2>/dev/null; kill -9 %s 2>/dev/null; exit 0",
		strings.Join(groups, " "), strings.Join(single, " "))
	s, err := h.newSession(ctx)
	if err != nil {
		return fmt.Errorf("ssh: kill process %v on %q: %w", pids, h.name, err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() { done <- s.Run("exec /bin/sh -c " + shellQuote(script)) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("ssh: kill process %v on %q: %v", pids, h.name, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ssh: kill process %v on %q: %w", pids, h.name, ctx.Err())
	}
}

func isClosedError(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "use of closed network connection") || strings.Contains(err.Error(), "EOF"))
}
