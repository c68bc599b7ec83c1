package remote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kevinburke/ssh_config"
	gossh "golang.org/x/crypto/ssh"
)

// DefaultConnectTimeout bounds the TCP connection, the ssh handshake and the
// login of one hop, unless the ssh config's ConnectTimeout or
// [WithConnectTimeout] says otherwise.
const DefaultConnectTimeout = 10 * time.Second

// maxJumps bounds the ProxyJump chain, which catches loops in the config.
const maxJumps = 8

// ErrClientClosed is returned by Connect after the Client has been closed.
var ErrClientClosed = errors.New("ssh: client closed")

// A DialFunc opens the network connection to the first hop of an ssh
// connection; net.Dialer.DialContext is one.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// A Client connects to ssh hosts and keeps the connections for reuse. It
// holds the ssh configuration, the dial function and the timeouts. A Client
// is safe for concurrent use by several goroutines; Close it when done.
type Client struct {
	dial           DialFunc
	connectTimeout time.Duration
	agentSock      string

	cfgMu     sync.Mutex
	cfgPath   string // explicit config file; "" means ~/.ssh/config
	cfgLoaded bool
	cfg       *ssh_config.Config
	cfgErr    error

	khMu sync.Mutex // serializes appends to known_hosts files

	mu     sync.Mutex
	closed bool
	hosts  map[string]*hostEntry // by connection key, see Host.key
	seq    uint64                // creation order of hosts
}

// hostEntry is a connection in the making or made.
type hostEntry struct {
	ready chan struct{} // closed when host or err is set
	host  *Host
	err   error
}

// An Option configures a Client.
type Option func(*Client)

// WithConfigFile makes the client read the ssh configuration from path
// instead of ~/.ssh/config or the file named by PATHOS_STAR_SSH_CONFIG. A
// missing file is then an error.
func WithConfigFile(path string) Option {
	return func(c *Client) { c.cfgPath = path }
}

// WithDialer sets the function that opens the network connection to the
// first hop (jump hosts are reached through ssh). Tests use it to put a
// proxy in between.
func WithDialer(dial DialFunc) Option {
	return func(c *Client) { c.dial = dial }
}

// WithConnectTimeout sets the default bound on connecting to and logging in
// to one hop; the ssh config's ConnectTimeout overrides it per host. The
// default is DefaultConnectTimeout.
func WithConnectTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.connectTimeout = d
		}
	}
}

// WithAgent sets the path of the ssh agent's socket, by default the value
// of SSH_AUTH_SOCK when NewClient is called. An empty path disables the
// agent.
func WithAgent(socket string) Option {
	return func(c *Client) { c.agentSock = socket }
}

// NewClient returns a client configured by opts. It reads the environment
// variables PATHOS_STAR_SSH_CONFIG and SSH_AUTH_SOCK now; the configuration
// file itself is read on first use.
func NewClient(opts ...Option) *Client {
	c := &Client{
		dial:           (&net.Dialer{}).DialContext,
		connectTimeout: DefaultConnectTimeout,
		agentSock:      os.Getenv("SSH_AUTH_SOCK"),
		cfgPath:        os.Getenv(EnvConfig),
		hosts:          make(map[string]*hostEntry),
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// Connect returns a connection to dest, a destination [user@]host[:port] or
// an ssh config alias. If the client already holds a live connection to the
// same resolved destination (user, host name, port and jump hosts), Connect
// returns it; otherwise it dials, through the ProxyJump hosts if any. A
// failure to connect or to log in is reported within the connect timeout
// (per hop), and the error names the destination. Connect is safe for
// concurrent use; concurrent calls for one destination share one dial.
func (c *Client) Connect(ctx context.Context, dest string) (*Host, error) {
	hc, err := c.Resolve(dest)
	if err != nil {
		return nil, err
	}
	return c.connect(ctx, dest, hc, hc.ProxyJump, 0)
}

// connect returns a connection to hc reached through the jump hosts jumps.
// As with ssh -J, the last jump host is itself reached through the jump
// hosts before it, and the first through its own configuration.
func (c *Client) connect(ctx context.Context, name string, hc *HostConfig, jumps []string, depth int) (*Host, error) {
	if depth > maxJumps {
		return nil, fmt.Errorf("ssh: connect to %q: more than %d jump hosts (is there a ProxyJump loop in the ssh config?)", name, maxJumps)
	}
	var via *Host
	if len(jumps) > 0 {
		last := jumps[len(jumps)-1]
		jhc, err := c.Resolve(last)
		if err != nil {
			return nil, fmt.Errorf("ssh: connect to %q: jump host: %w", name, err)
		}
		before := jumps[:len(jumps)-1]
		if len(before) == 0 {
			before = jhc.ProxyJump
		}
		via, err = c.connect(ctx, last, jhc, before, depth+1)
		if err != nil {
			return nil, fmt.Errorf("ssh: connect to %q through jump host %q: %w", name, last, err)
		}
	}
	// Two aliases of one address share a connection only if they check
	// and authenticate the same way: a connection verified against one
	// known_hosts file must not serve an alias that names another.
	key := hc.String() + " known_hosts=" + strings.Join(hc.KnownHostsFiles, ",") +
		" strict=" + hc.StrictHostKeyChecking + " keys=" + strings.Join(hc.IdentityFiles, ",")
	if hc.IdentitiesOnly {
		key += " identities-only"
	}
	if via != nil {
		key += " via " + via.key
	}

	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClientClosed
		}
		e := c.hosts[key]
		if e == nil {
			e = &hostEntry{ready: make(chan struct{})}
			c.hosts[key] = e
			c.mu.Unlock()
			e.host, e.err = c.dialHost(ctx, name, key, hc, via)
			c.mu.Lock()
			if e.err == nil && c.closed {
				e.err = ErrClientClosed
				defer e.host.Close()
				e.host = nil
			}
			if e.err != nil && c.hosts[key] == e {
				delete(c.hosts, key)
			}
			c.mu.Unlock()
			close(e.ready)
			return e.host, e.err
		}
		c.mu.Unlock()

		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("ssh: connect to %q: %w", name, ctx.Err())
		}
		if e.err == nil && e.host.alive() {
			return e.host, nil
		}
		if e.err != nil && !(isContextError(e.err) && ctx.Err() == nil) {
			// A concurrent dial failed; its error is ours.
			return nil, e.err
		}
		// The connection died, or the concurrent dial was cancelled by
		// its own caller: dial again.
		c.mu.Lock()
		if c.hosts[key] == e {
			delete(c.hosts, key)
		}
		c.mu.Unlock()
	}
}

// dialHost dials and logs in to hc, through via if not nil.
func (c *Client) dialHost(ctx context.Context, name, key string, hc *HostConfig, via *Host) (*Host, error) {
	timeout := hc.ConnectTimeout
	if timeout <= 0 {
		timeout = c.connectTimeout
	}
	what := fmt.Sprintf("%q", name)
	if name != hc.String() {
		what += " (" + hc.String() + ")"
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fail := func(err error) error {
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("ssh: connect to %s: %w", what, ctx.Err())
		case dctx.Err() != nil:
			return fmt.Errorf("ssh: connect to %s: timed out after %v", what, timeout)
		}
		return fmt.Errorf("ssh: connect to %s: %w", what, err)
	}

	k := c.loadKeys(hc, timeout)
	defer k.close()
	if len(k.signers) == 0 {
		return nil, fmt.Errorf("ssh: connect to %s: cannot log in as %q: %s", what, hc.User, k.problem())
	}
	check, algos, err := c.hostKeyCheck(hc)
	if err != nil {
		return nil, fmt.Errorf("ssh: connect to %s: %w", what, err)
	}

	addr := hc.Addr()
	var conn net.Conn
	if via != nil {
		conn, err = via.conn.DialContext(dctx, "tcp", addr)
	} else {
		conn, err = c.dial(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, fail(err)
	}
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	sconn, chans, reqs, err := gossh.NewClientConn(conn, addr, &gossh.ClientConfig{
		User:              hc.User,
		Auth:              []gossh.AuthMethod{gossh.PublicKeys(k.signers...)},
		HostKeyCallback:   check,
		HostKeyAlgorithms: algos,
	})
	if !stop() {
		// The deadline or the caller's context closed the connection.
		if err == nil {
			sconn.Close()
		}
		return nil, fail(err)
	}
	if err != nil {
		conn.Close()
		var hkErr *HostKeyError
		switch {
		case errors.As(err, &hkErr):
			return nil, fmt.Errorf("ssh: connect to %s: %w", what, hkErr)
		case isAuthError(err):
			return nil, fmt.Errorf("ssh: connect to %s: login as %q refused: %s", what, hc.User, k.problem())
		}
		return nil, fail(err)
	}
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.mu.Unlock()
	return newHost(c, name, key, seq, hc, gossh.NewClient(sconn, chans, reqs), via), nil
}

// forget drops h from the connection cache, if it is there.
func (c *Client) forget(h *Host) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.hosts[h.key]; e != nil && e.host == h {
		delete(c.hosts, h.key)
	}
}

// Close closes every connection the client holds, and with them every
// tunnel, and kills the remote processes started through them that are
// still running. Later Connect calls fail with ErrClientClosed. Close is
// safe to call more than once and concurrently with other methods.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	var hosts []*Host
	for _, e := range c.hosts {
		select {
		case <-e.ready:
			if e.host != nil {
				hosts = append(hosts, e.host)
			}
		default:
			// Still dialling: connect closes it when it sees c.closed.
		}
	}
	c.hosts = make(map[string]*hostEntry)
	c.mu.Unlock()

	// Close the newest first: a host reached through a jump host needs
	// the jump host to kill its processes.
	slices.SortFunc(hosts, func(a, b *Host) int { return cmp.Compare(b.seq, a.seq) })
	var first error
	for _, h := range hosts {
		if err := h.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
