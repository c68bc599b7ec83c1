// Package sshtest starts ssh servers for tests: a real OpenSSH sshd on
// 127.0.0.1 ([StartSSHD]) for integration tests, and a small in-process
// golang.org/x/crypto/ssh server ([StartServer]) for unit tests. Both are
// stopped by the test's Cleanup.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// GenerateKey creates an ed25519 key pair, writes the private key in
// OpenSSH format to dir/name (mode 0600) and the public key to
// dir/name.pub, and returns the signer and the private key's path. With a
// non-empty passphrase the private key file is encrypted.
func GenerateKey(t testing.TB, dir, name, passphrase string) (gossh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("sshtest: generate key: %v", err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("sshtest: signer: %v", err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = gossh.MarshalPrivateKey(priv, name)
	} else {
		block, err = gossh.MarshalPrivateKeyWithPassphrase(priv, name, []byte(passphrase))
	}
	if err != nil {
		t.Fatalf("sshtest: marshal key: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := os.WriteFile(path+".pub", gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	return signer, path
}

// ServerConfig configures StartServer.
type ServerConfig struct {
	// AuthorizedKeys are the keys allowed to log in, as any user.
	AuthorizedKeys []gossh.PublicKey

	// HostKey is the server's key; nil means a new ed25519 key.
	HostKey gossh.Signer
}

// A Server is an in-process ssh server on 127.0.0.1 that supports public
// key authentication, "exec" sessions (the command runs locally with
// /bin/sh -c, as the test's user, in its own process session like under
// sshd), the "signal" request, and "direct-tcpip" forwarding to loopback
// addresses. Its methods are safe for concurrent use.
type Server struct {
	Addr    string          // "127.0.0.1:port"
	Port    int             // the TCP port
	HostKey gossh.PublicKey // the server's public host key

	ln     net.Listener
	config *gossh.ServerConfig
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	accepted int
	conns    map[net.Conn]struct{}
	procs    map[*os.Process]struct{}
}

// StartServer starts a Server on 127.0.0.1:0 and stops it in t.Cleanup,
// killing the commands still running.
func StartServer(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	hostKey := cfg.HostKey
	if hostKey == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatalf("sshtest: host key: %v", err)
		}
		if hostKey, err = gossh.NewSignerFromKey(priv); err != nil {
			t.Fatalf("sshtest: host key: %v", err)
		}
	}
	authorized := make(map[string]bool)
	for _, k := range cfg.AuthorizedKeys {
		authorized[string(k.Marshal())] = true
	}
	sc := &gossh.ServerConfig{
		PublicKeyCallback: func(_ gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			if authorized[string(key.Marshal())] {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	sc.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sshtest: listen: %v", err)
	}
	s := &Server{
		Addr:    ln.Addr().String(),
		Port:    ln.Addr().(*net.TCPAddr).Port,
		HostKey: hostKey.PublicKey(),
		ln:      ln,
		config:  sc,
		conns:   make(map[net.Conn]struct{}),
		procs:   make(map[*os.Process]struct{}),
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// KnownHostsLine returns the known_hosts line for the server,
// "[127.0.0.1]:port ssh-ed25519 AAAA...".
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{s.Addr}, s.HostKey)
}

// Accepted returns how many TCP connections the server has accepted.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// DropConnections closes every live client connection, as a server crash
// would; the server keeps listening.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Close stops listening, closes every connection, kills the commands still
// running and waits for the server's goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	for p := range s.procs {
		syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// track registers a live connection; it reports false once closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.accepted++
		s.mu.Unlock()
		if !s.track(conn) {
			conn.Close()
			return
		}
		s.wg.Add(1)
		go s.handleConn(conn)
	}
}

func (s *Server) handleConn(conn net.Conn) {
	defer s.wg.Done()
	defer s.untrack(conn)
	sconn, chans, reqs, err := gossh.NewServerConn(conn, s.config)
	if err != nil {
		return
	}
	defer sconn.Close()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		gossh.DiscardRequests(reqs) // keepalives get a "false" answer, as from sshd
	}()
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			s.wg.Add(1)
			go s.handleSession(ch, creqs)
		case "direct-tcpip":
			s.wg.Add(1)
			go s.handleDirect(nc)
		default:
			nc.Reject(gossh.UnknownChannelType, "unsupported channel type")
		}
	}
}

// handleSession serves one session channel: env, exec and signal
// requests.
func (s *Server) handleSession(ch gossh.Channel, reqs <-chan *gossh.Request) {
	defer s.wg.Done()
	defer ch.Close()
	var proc *os.Process
	var procMu sync.Mutex
	exited := make(chan struct{})
	for req := range reqs {
		switch req.Type {
		case "env":
			req.Reply(true, nil)
		case "exec":
			var p struct{ Command string }
			if proc != nil || gossh.Unmarshal(req.Payload, &p) != nil {
				req.Reply(false, nil)
				continue
			}
			cmd := exec.Command("/bin/sh", "-c", p.Command)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			cmd.Stdout = ch
			cmd.Stderr = ch.Stderr()
			stdin, err := cmd.StdinPipe()
			if err != nil {
				req.Reply(false, nil)
				continue
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				req.Reply(false, nil)
				continue
			}
			err = cmd.Start()
			if err == nil {
				s.procs[cmd.Process] = struct{}{}
			}
			s.mu.Unlock()
			if err != nil {
				req.Reply(false, nil)
				continue
			}
			procMu.Lock()
			proc = cmd.Process
			procMu.Unlock()
			req.Reply(true, nil)
			go func() {
				io.Copy(stdin, ch)
				stdin.Close()
			}()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer close(exited)
				err := cmd.Wait()
				s.mu.Lock()
				delete(s.procs, cmd.Process)
				s.mu.Unlock()
				sendExit(ch, cmd.ProcessState, err)
				ch.Close()
			}()
		case "signal":
			var p struct{ Signal string }
			if gossh.Unmarshal(req.Payload, &p) == nil {
				procMu.Lock()
				if proc != nil {
					if sig, ok := signals[p.Signal]; ok {
						proc.Signal(sig)
					}
				}
				procMu.Unlock()
			}
			if req.WantReply {
				req.Reply(true, nil)
			}
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
	if proc != nil {
		<-exited
	}
}

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL,
	"TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
}

// sendExit reports how the command ended, as sshd does.
func sendExit(ch gossh.Channel, st *os.ProcessState, err error) {
	if st == nil {
		ch.SendRequest("exit-status", false, gossh.Marshal(struct{ Status uint32 }{255}))
		return
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		name := "KILL"
		for n, s := range signals {
			if s == ws.Signal() {
				name = n
			}
		}
		ch.SendRequest("exit-signal", false, gossh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}{name, false, "", ""}))
		return
	}
	ch.SendRequest("exit-status", false, gossh.Marshal(struct{ Status uint32 }{uint32(st.ExitCode())}))
}

// handleDirect serves a direct-tcpip channel to a loopback address.
func (s *Server) handleDirect(nc gossh.NewChannel) {
	defer s.wg.Done()
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := gossh.Unmarshal(nc.ExtraData(), &p); err != nil {
		nc.Reject(gossh.ConnectionFailed, "bad direct-tcpip request")
		return
	}
	if ip := net.ParseIP(p.Host); p.Host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		nc.Reject(gossh.Prohibited, "sshtest forwards to loopback addresses only")
		return
	}
	conn, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		nc.Reject(gossh.ConnectionFailed, err.Error())
		return
	}
	if !s.track(conn) {
		conn.Close()
		nc.Reject(gossh.ConnectionFailed, "server closed")
		return
	}
	defer s.untrack(conn)
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go gossh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(conn, ch)
		conn.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		defer wg.Done()
		io.Copy(ch, conn)
		ch.CloseWrite()
	}()
	wg.Wait()
}
