package netnstest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/pathos-star/pathos-star/internal/sshtest"
)

// SSHDOptions configure Host.StartSSHD.
type SSHDOptions struct {
	// AuthorizedKeys is the content of the authorized_keys file: the
	// public keys allowed to log in.
	AuthorizedKeys []byte

	// Path lists directories put before /usr/local/bin:/usr/bin:/bin on
	// the PATH of remote sessions.
	Path []string
}

// An SSHD is a real OpenSSH sshd running inside a host's namespace,
// started by Host.StartSSHD, listening on port 22 of the host's address.
type SSHD struct {
	Host       *Host
	Dir        string // the temporary directory holding its keys, config and log
	Home       string // $HOME of remote sessions, a directory under Dir
	HostKeyPub string // the host's public key, "ssh-ed25519 AAAA..."
	Log        string // sshd's log file
}

// KnownHostsLine returns the known_hosts line for the server, ending in a
// newline.
func (d *SSHD) KnownHostsLine() string {
	return d.Host.Addr + " " + d.HostKeyPub + "\n"
}

// StartSSHD starts OpenSSH's sshd in the foreground as a child process in
// h's namespace, on h.Addr port 22, with a fresh host key, and waits until
// it listens. Remote sessions get $HOME set to SSHD.Home and the PATH that
// opts gives. The server also probes its clients (ClientAliveInterval), so
// that the sessions of a client cut off end by themselves. sshd is killed
// in t.Cleanup. Without sshd the test is skipped (see sshtest.Require).
func (h *Host) StartSSHD(t testing.TB, opts SSHDOptions) *SSHD {
	t.Helper()
	sshtest.Require(t, sshtest.SSHDPath, "openssh-server")
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Logf("netnstest: privilege separation directory: %v", err)
	}
	d := &SSHD{Host: h, Dir: t.TempDir()}
	d.Home = filepath.Join(d.Dir, "home")
	d.Log = filepath.Join(d.Dir, "sshd.log")
	if err := os.MkdirAll(d.Home, 0o755); err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	signer, hostKey := sshtest.GenerateKey(t, d.Dir, "host_ed25519", "")
	d.HostKeyPub = strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey())))
	authorized := filepath.Join(d.Dir, "authorized_keys")
	if err := os.WriteFile(authorized, opts.AuthorizedKeys, 0o600); err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	path := strings.Join(append(append([]string(nil), opts.Path...), "/usr/local/bin", "/usr/bin", "/bin"), ":")
	cfg := filepath.Join(d.Dir, "sshd_config")
	conf := fmt.Sprintf(`Port 22
ListenAddress %[1]s
HostKey %[2]s
PidFile %[3]s
AuthorizedKeysFile %[4]s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AcceptEnv PATHOS_*
SetEnv HOME=%[5]s PATH=%[6]s
ClientAliveInterval 1
ClientAliveCountMax 3
MaxSessions 64
MaxStartups 64
UseDNS no
PrintMotd no
X11Forwarding no
`, h.Addr, hostKey, filepath.Join(d.Dir, "sshd.pid"), authorized, d.Home, path)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	// Never start sshd on a config it rejects: it would fall back to
	// port 22 on every address and the system keys.
	if out, err := exec.Command(sshtest.SSHDPath, "-t", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("netnstest: sshd -t -f %s: %v: %s", cfg, err, out)
	}
	log, err := os.OpenFile(d.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	defer log.Close()
	cmd := exec.Command("ip", "netns", "exec", h.NS, sshtest.SSHDPath, "-D", "-e", "-f", cfg)
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatalf("netnstest: start sshd in %s: %v", h.NS, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			if b, err := os.ReadFile(d.Log); err == nil {
				t.Logf("sshd log of host %s:\n%s", h.Name, b)
			}
		}
	})

	// `ip netns exec` enters the namespace and execs sshd, so the child
	// ends up in h's namespace and its /proc/PID/net/tcp shows that
	// namespace's sockets: wait for the listening one there, without
	// sending anything.
	deadline := time.Now().Add(10 * time.Second)
	for !h.listening(cmd.Process.Pid, 22) {
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(d.Log)
			t.Fatalf("netnstest: sshd in %s exited at start (%v):\n%s", h.NS, err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("netnstest: sshd in %s did not listen on %s:22 within 10s", h.NS, h.Addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return d
}

// listening reports whether process pid is in h's network namespace and
// that namespace has a TCP socket listening on port.
func (h *Host) listening(pid, port int) bool {
	if pids, err := h.Processes(); err != nil || !slices.Contains(pids, pid) {
		return false
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return false
	}
	defer f.Close()
	local := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st ...; st 0A is LISTEN.
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && strings.HasSuffix(fields[1], local) && fields[3] == "0A" {
			return true
		}
	}
	return false
}
