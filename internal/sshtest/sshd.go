package sshtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SSHDPath is where StartSSHD expects the OpenSSH server.
const SSHDPath = "/usr/sbin/sshd"

// EnvIntegration is the environment variable that, set to "require", turns
// the skip of a test whose engine is not installed into a failure.
const EnvIntegration = "PATHOS_STAR_INTEGRATION"

// An SSHD is a real OpenSSH sshd listening on 127.0.0.1, started by
// StartSSHD, with everything it needs in Dir.
type SSHD struct {
	Dir        string // the temporary directory holding keys, configs and logs
	Port       int    // the TCP port sshd listens on
	Addr       string // "127.0.0.1:port"
	User       string // the login name (the user running the test)
	Home       string // $HOME of remote sessions, a directory under Dir; Home/bin leads their PATH
	KeyFile    string // the user's private key (unencrypted ed25519)
	KnownHosts string // a known_hosts file holding the host key
	ConfigFile string // an ssh client config defining Alias
	Alias      string // the Host alias in ConfigFile, "testhost"
	HostKeyPub string // the host's public key, "ssh-ed25519 AAAA..."
	Log        string // sshd's log file

	cmd *exec.Cmd
}

// Require skips the test when the program at path is missing, naming the
// Debian package that provides it, or fails it when the environment
// variable PATHOS_STAR_INTEGRATION is "require".
func Require(t testing.TB, path, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(path); err == nil {
		return
	}
	msg := fmt.Sprintf("%s not found: install the Debian package %s", path, pkg)
	if os.Getenv(EnvIntegration) == "require" {
		t.Fatalf("%s (%s=require)", msg, EnvIntegration)
	}
	t.Skip(msg)
}

// StartSSHD starts OpenSSH's sshd as a child process on 127.0.0.1 on a free
// port, with a fresh host key, a fresh user key authorized for the current
// user, and a client config whose alias "testhost" logs in with that key
// and checks the host key strictly. Remote sessions get $HOME set to
// SSHD.Home, so nothing is written to the real home directory by programs
// that honour $HOME, and SSHD.Home/bin is first on their PATH. sshd is killed in t.Cleanup. Without sshd the test is
// skipped (see Require).
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	Require(t, SSHDPath, "openssh-server")
	Require(t, "ssh-keygen", "openssh-client")
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Logf("sshtest: privilege separation directory: %v", err)
	}
	u, err := osuser.Current()
	if err != nil {
		t.Fatalf("sshtest: current user: %v", err)
	}
	d := &SSHD{
		Dir:   t.TempDir(),
		User:  u.Username,
		Alias: "testhost",
	}
	d.Home = filepath.Join(d.Dir, "home")
	d.KeyFile = filepath.Join(d.Dir, "id_ed25519")
	d.KnownHosts = filepath.Join(d.Dir, "known_hosts")
	d.ConfigFile = filepath.Join(d.Dir, "ssh_config")
	d.Log = filepath.Join(d.Dir, "sshd.log")
	hostKey := filepath.Join(d.Dir, "host_ed25519")
	if err := os.MkdirAll(filepath.Join(d.Home, "bin"), 0o755); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	for _, k := range []string{hostKey, d.KeyFile} {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pathos-star-test", "-f", k).CombinedOutput()
		if err != nil {
			t.Fatalf("sshtest: ssh-keygen -f %s: %v: %s", k, err, out)
		}
	}
	pub, err := os.ReadFile(d.KeyFile + ".pub")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := os.WriteFile(filepath.Join(d.Dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	fields := strings.Fields(string(hostPub))
	if len(fields) < 2 {
		t.Fatalf("sshtest: bad host public key %q", hostPub)
	}
	d.HostKeyPub = fields[0] + " " + fields[1]

	t.Cleanup(func() {
		if t.Failed() {
			if log, err := os.ReadFile(d.Log); err == nil {
				t.Logf("sshd log:\n%s", log)
			}
		}
	})
	// The free port is found by listening and closing, so another process
	// may take it first; sshd then exits and we try another.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if lastErr = d.start(t, hostKey); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("sshtest: %v", lastErr)
	}

	known := fmt.Sprintf("[127.0.0.1]:%d %s\n", d.Port, d.HostKeyPub)
	if err := os.WriteFile(d.KnownHosts, []byte(known), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := os.WriteFile(d.ConfigFile, []byte(d.HostBlock(d.Alias)), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	return d
}

// HostBlock returns an ssh client config "Host" block for alias that logs
// in to the server with the test key and checks its host key strictly;
// tests append lines to it (ProxyJump, ServerAliveInterval...).
func (d *SSHD) HostBlock(alias string) string {
	return fmt.Sprintf(`Host %s
  HostName 127.0.0.1
  Port %d
  User %s
  IdentityFile %q
  UserKnownHostsFile %q
  IdentitiesOnly yes
  StrictHostKeyChecking yes
`, alias, d.Port, d.User, d.KeyFile, d.KnownHosts)
}

// start writes the sshd config for a free port, checks it with sshd -t and
// starts sshd, waiting until it accepts connections.
func (d *SSHD) start(t testing.TB, hostKey string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("find a free port: %v", err)
	}
	d.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	d.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Port))

	cfg := filepath.Join(d.Dir, "sshd_config")
	conf := fmt.Sprintf(`Port %[1]d
ListenAddress 127.0.0.1
HostKey %[2]s
PidFile %[3]s
AuthorizedKeysFile %[4]s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
AcceptEnv PATHOS_*
SetEnv HOME=%[5]s PATH=%[5]s/bin:/usr/local/bin:/usr/bin:/bin
MaxSessions 64
MaxStartups 64
UseDNS no
PrintMotd no
X11Forwarding no
`, d.Port, hostKey, filepath.Join(d.Dir, "sshd.pid"), filepath.Join(d.Dir, "authorized_keys"), d.Home)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return err
	}
	// Never start sshd on a config it rejects: it would fall back to
	// port 22 and the system keys.
	if out, err := exec.Command(SSHDPath, "-t", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("sshtest: sshd -t -f %s: %v: %s", cfg, err, out)
	}
	log, err := os.OpenFile(d.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", cfg)
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start sshd: %v", err)
	}
	log.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("sshd exited at start (%v); see %s", err, d.Log)
		default:
		}
		c, err := net.DialTimeout("tcp", d.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("sshd did not listen on %s within 10s", d.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.cmd = cmd
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return nil
}
