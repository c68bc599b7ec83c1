// Package netnstest builds a small network of Linux network namespaces for
// integration tests: several "hosts", each a namespace with one interface
// on a private /24, joined by a bridge in a switch namespace. The
// addresses exist only inside the namespaces and the root namespace has no
// route to them, so a test runs its clients inside a host too
// ([Host.Command]) and never sends anything from the root namespace.
//
// A host can be cut off at the switch ([Host.Cut]): its packets are then
// dropped silently and its peers see only timeouts, like a cable pulled out
// or a machine that froze.
//
// Building the network needs root and the ip command of iproute2. Where
// either is missing, or the kernel refuses a namespace, [New] skips the
// test, unless the environment variable PATHOS_STAR_INTEGRATION is
// "require", in which case it fails it. Everything [New] and
// [Host.StartSSHD] create is removed in the test's Cleanup: the processes
// still running in the namespaces are killed and the namespaces deleted.
package netnstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pathos-star/pathos-star/internal/sshtest"
)

// Subnet is the /24 the hosts' addresses are taken from, in order: the
// first host given to New gets .2, the next .3, and so on.
const Subnet = "10.77.0.0/24"

// A Net is a set of hosts joined by a switch, built by New. Its methods
// are safe for concurrent use; the network is torn down by the test's
// Cleanup.
type Net struct {
	Switch string // the switch namespace's name, holding the bridge and one port per host
	hosts  map[string]*Host
	order  []*Host
}

// A Host is one network namespace of a Net with a veth interface "eth0"
// on the switch and the loopback interface up.
type Host struct {
	Name string // the name given to New, e.g. "h1"
	NS   string // the namespace's name, unique to this Net
	Addr string // the IPv4 address of eth0, e.g. "10.77.0.3"
	Port string // the name of the host's port (the switch-side veth) in the switch namespace

	net *Net
}

var hostName = regexp.MustCompile(`^[a-z][a-z0-9]{0,9}$`)

// New builds a network with one host per name (names are short lower-case
// words such as "h1", at most 10 characters) and returns it. It skips the
// test (or fails it, see the package doc) where network namespaces cannot
// be made.
func New(t testing.TB, names ...string) *Net {
	t.Helper()
	if len(names) == 0 || len(names) > 250 {
		t.Fatalf("netnstest: got %d hosts, want 1 to 250", len(names))
	}
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv(sshtest.EnvIntegration) == "require" {
			t.Fatalf("%s (%s=require)", msg, sshtest.EnvIntegration)
		}
		t.Skip(msg)
	}
	sshtest.Require(t, "ip", "iproute2")
	if os.Geteuid() != 0 {
		unavailable("network namespaces need root (running as uid %d)", os.Geteuid())
	}
	var suffix [4]byte
	rand.Read(suffix[:])
	prefix := "ps" + hex.EncodeToString(suffix[:]) + "-"
	n := &Net{Switch: prefix + "sw", hosts: make(map[string]*Host)}
	for i, name := range names {
		if !hostName.MatchString(name) || name == "sw" || n.hosts[name] != nil {
			t.Fatalf("netnstest: bad or repeated host name %q", name)
		}
		h := &Host{Name: name, NS: prefix + name, Addr: fmt.Sprintf("10.77.0.%d", i+2), Port: "p-" + name, net: n}
		n.hosts[name] = h
		n.order = append(n.order, h)
	}

	// The switch first: if the kernel refuses a namespace, skip.
	if out, err := exec.Command("ip", "netns", "add", n.Switch).CombinedOutput(); err != nil {
		unavailable("cannot create a network namespace: ip netns add %s: %v: %s", n.Switch, err, bytes.TrimSpace(out))
	}
	created := []string{n.Switch}
	t.Cleanup(func() { teardown(t, created) })
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("netnstest: ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	ip("-n", n.Switch, "link", "set", "lo", "up")
	ip("-n", n.Switch, "link", "add", "br0", "type", "bridge")
	ip("-n", n.Switch, "link", "set", "br0", "up")
	for _, h := range n.order {
		ip("netns", "add", h.NS)
		created = append(created, h.NS)
		// The pair is made directly inside the two namespaces: no
		// interface ever appears in the root namespace.
		ip("link", "add", "eth0", "netns", h.NS, "type", "veth", "peer", "name", h.Port, "netns", n.Switch)
		ip("-n", n.Switch, "link", "set", h.Port, "master", "br0")
		ip("-n", n.Switch, "link", "set", h.Port, "up")
		ip("-n", h.NS, "link", "set", "lo", "up")
		ip("-n", h.NS, "addr", "add", h.Addr+"/24", "dev", "eth0")
		ip("-n", h.NS, "link", "set", "eth0", "up")
	}
	return n
}

// Host returns the host called name, or nil.
func (n *Net) Host(name string) *Host { return n.hosts[name] }

// Command returns a command that runs the program name with args inside
// h's namespace (with `ip netns exec`, which execs the program: the
// command's process is the program itself). It is killed when ctx ends.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Cut takes h's port on the switch down: from then on every packet to or
// from h is dropped without an error, and its peers see only timeouts.
func (h *Host) Cut(t testing.TB) {
	t.Helper()
	h.setPort(t, "down")
}

// Restore takes h's port on the switch up again, undoing Cut.
func (h *Host) Restore(t testing.TB) {
	t.Helper()
	h.setPort(t, "up")
}

func (h *Host) setPort(t testing.TB, state string) {
	t.Helper()
	if out, err := exec.Command("ip", "-n", h.net.Switch, "link", "set", h.Port, state).CombinedOutput(); err != nil {
		t.Fatalf("netnstest: set port %s of host %s %s: %v: %s", h.Port, h.Name, state, err, bytes.TrimSpace(out))
	}
}

// Processes returns the IDs of the processes whose network namespace is
// h's, at the time of the call.
func (h *Host) Processes() ([]int, error) { return nsProcesses(h.NS) }

// nsProcesses lists the processes in the named network namespace, found by
// comparing /proc/PID/ns/net with the namespace's bind mount.
func nsProcesses(ns string) ([]int, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/run/netns", ns), &st); err != nil {
		if err := syscall.Stat(filepath.Join("/var/run/netns", ns), &st); err != nil {
			return nil, fmt.Errorf("namespace %s: %v", ns, err)
		}
	}
	want := fmt.Sprintf("net:[%d]", st.Ino)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "net")); err == nil && link == want {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// teardown kills the processes left in the namespaces, waits a little for
// them to go, and deletes the namespaces.
func teardown(t testing.TB, namespaces []string) {
	deadline := time.Now().Add(5 * time.Second)
	for _, ns := range namespaces {
		for {
			pids, err := nsProcesses(ns)
			if err != nil {
				t.Errorf("netnstest: %v", err)
				break
			}
			if len(pids) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("netnstest: processes %v still in namespace %s after SIGKILL", pids, ns)
				break
			}
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, ns := range namespaces {
		if out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
			t.Errorf("netnstest: ip netns delete %s: %v: %s", ns, err, bytes.TrimSpace(out))
		}
	}
}
