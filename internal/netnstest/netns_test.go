package netnstest_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pathos-star/pathos-star/internal/netnstest"
)

// portState returns the operational state of h's port on the switch,
// "UP" or "DOWN".
func portState(t *testing.T, n *netnstest.Net, h *netnstest.Host) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", n.Switch, "-br", "link", "show", "dev", h.Port).CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show: %v: %s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		t.Fatalf("ip link show: %q", out)
	}
	return f[1]
}

// TestNetLifecycle builds a network, runs a process in a host, cuts the
// host off and back, and checks that the Cleanup kills the process and
// deletes every namespace.
func TestNetLifecycle(t *testing.T) {
	var (
		namespaces []string
		sleeper    *exec.Cmd
		waited     = make(chan error, 1)
	)
	t.Run("net", func(t *testing.T) {
		n := netnstest.New(t, "a", "b")
		a, b := n.Host("a"), n.Host("b")
		if a.Addr == b.Addr || n.Host("c") != nil {
			t.Fatalf("hosts: a %+v, b %+v, c %v", a, b, n.Host("c"))
		}
		namespaces = []string{n.Switch, a.NS, b.NS}

		sleeper = a.Command(context.Background(), "sleep", "60")
		if err := sleeper.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { waited <- sleeper.Wait() }()
		// ip enters the namespace, then execs sleep: wait for that.
		deadline := time.Now().Add(5 * time.Second)
		for {
			pids, err := a.Processes()
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(pids, sleeper.Process.Pid) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a's processes %v lack the sleeper %d after 5s", pids, sleeper.Process.Pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if pids, err := b.Processes(); err != nil || len(pids) != 0 {
			t.Errorf("b's processes: %v, %v; want none", pids, err)
		}

		for _, step := range []struct {
			do   func(testing.TB)
			name string
			want string
		}{
			{nil, "before the cut", "UP"},
			{a.Cut, "after Cut", "DOWN"},
			{a.Restore, "after Restore", "UP"},
		} {
			if step.do != nil {
				step.do(t)
			}
			if got := portState(t, n, a); got != step.want {
				t.Errorf("port of a %s: %s, want %s", step.name, got, step.want)
			}
		}
	})
	if sleeper == nil {
		return // skipped
	}
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		sleeper.Process.Kill()
		t.Error("the process in the namespace survived the Cleanup")
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	for _, ns := range namespaces {
		for line := range strings.Lines(string(out)) {
			if f := strings.Fields(line); len(f) > 0 && f[0] == ns {
				t.Errorf("namespace %s not deleted", ns)
			}
		}
	}
}
