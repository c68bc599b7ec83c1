package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pathos-star/pathos-star/internal/wire"
	"github.com/pathos-star/pathos-star/pools"
)

// PoolOptions describe a remote pool.
type PoolOptions struct {
	Hosts   []string // ssh destinations: a worker is started on each over an exec channel
	Servers []string // host:port of running `pathos-star serve` servers
	Secret  []byte   // the servers' shared secret
	Workers int      // workers per host and per server; 0 means 2
	Local   int      // local worker processes added to the pool
	// Executable is the local binary copied to hosts that have no
	// pathos-star on their PATH; empty means the running binary.
	Executable string
}

// NewPool returns a pool whose workers run on other hosts: `pathos-star
// worker` started over ssh on each of opts.Hosts (the binary is copied
// there first if the host has none), connections to opts.Servers, and
// opts.Local local processes. Tasks go to whichever worker is free.
//
// NewPool connects to every host and server before it returns, so that an
// unreachable host, a failed login, a wrong secret or a binary that cannot
// run there is a clear error at once; the workers then start in the
// background.
func NewPool(ctx context.Context, env *pools.Env, client *Client, opts PoolOptions) (*pools.Pool, error) {
	if len(opts.Hosts)+len(opts.Servers)+opts.Local == 0 {
		return nil, errors.New("no hosts, servers or local workers given")
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	exe := opts.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("cannot find this program to copy to hosts: %v", err)
		}
	}

	type place struct {
		host   *Host  // ssh host, or
		bin    string // its pathos-star binary
		server string // a serve address, or
		local  bool   // a local process
		label  string
	}
	hostPlaces := make([]place, len(opts.Hosts))
	errs := make([]error, len(opts.Hosts)+len(opts.Servers))
	var wg sync.WaitGroup
	for i, dest := range opts.Hosts {
		wg.Go(func() {
			h, err := client.Connect(ctx, dest)
			if err != nil {
				errs[i] = err
				return
			}
			bin, err := h.EnsureBinary(ctx, exe)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %v", dest, err)
				return
			}
			hostPlaces[i] = place{host: h, bin: bin, label: dest}
		})
	}
	for i, addr := range opts.Servers {
		wg.Go(func() {
			// Check the server answers and accepts the secret.
			w, err := dialServer(ctx, env, addr, opts.Secret, addr+" (probe)")
			if err != nil {
				errs[len(opts.Hosts)+i] = err
				return
			}
			w.Close()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var places []place
	for _, hp := range hostPlaces {
		for range opts.Workers {
			places = append(places, hp)
		}
	}
	for _, addr := range opts.Servers {
		for range opts.Workers {
			places = append(places, place{server: addr, label: addr})
		}
	}
	for range opts.Local {
		places = append(places, place{local: true, label: "localhost"})
	}
	var names []string
	names = append(names, opts.Hosts...)
	names = append(names, opts.Servers...)
	if opts.Local > 0 {
		names = append(names, fmt.Sprintf("local*%d", opts.Local))
	}
	name := fmt.Sprintf("remote(%s, %d workers)", strings.Join(names, ", "), len(places))

	spawn := func(ctx context.Context, i int) (pools.Worker, error) {
		pl := places[i]
		wname := fmt.Sprintf("worker %d on %s", i, pl.label)
		switch {
		case pl.local:
			return pools.StartLocalProcess(ctx, env, i)
		case pl.server != "":
			return dialServer(ctx, env, pl.server, opts.Secret, wname)
		}
		cctx, cancel := context.WithTimeout(ctx, DefaultConnectTimeout)
		defer cancel()
		s, err := pl.host.Exec(cctx, "PATHOS_STAR_ROLE=worker exec "+shellQuote(pl.bin)+" worker")
		if err != nil {
			return nil, fmt.Errorf("%s: start worker: %v", pl.label, err)
		}
		conn := wire.NewConn(s, s, WireLimits)
		w, err := pools.NewConnWorker(ctx, env, wname, pl.label, conn, nil,
			func() { s.Kill() },
			func() error {
				wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if _, err := s.Wait(wctx); err != nil {
					s.Kill()
				}
				return nil
			})
		if err != nil {
			s.Kill()
			if tail := strings.TrimSpace(string(s.Stderr())); tail != "" {
				err = fmt.Errorf("%v (worker stderr: %s)", err, tail)
			}
			return nil, err
		}
		w.SetSlots(sshSlots)
		return w, nil
	}
	return pools.NewCustom(env, name, "remote", len(places), spawn), nil
}

// sshSlots and serverSlots are the chunks kept in flight per remote
// worker: an ssh channel has a longer round trip than a local pipe.
const (
	sshSlots    = 6
	serverSlots = 4
)

// dialServer connects to a `pathos-star serve` server and shakes hands.
func dialServer(ctx context.Context, env *pools.Env, addr string, secret []byte, name string) (pools.Worker, error) {
	d := net.Dialer{Timeout: DefaultConnectTimeout, KeepAlive: 15 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server %s: %v", addr, err)
	}
	conn := wire.NewConn(c, c, WireLimits)
	w, err := pools.NewConnWorker(ctx, env, name, addr, conn, secret, func() { c.Close() }, nil)
	if err != nil {
		return nil, fmt.Errorf("server %s: %v", addr, err)
	}
	w.SetSlots(serverSlots)
	return w, nil
}
