package pathosstar_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pathos-star/pathos-star/internal/netnstest"
	"github.com/pathos-star/pathos-star/internal/sshtest"
	"github.com/pathos-star/pathos-star/remote"
)

// netnsScript maps 60 slow tasks on two hosts, then prints whether the
// results are right and how many tasks each host ran.
const netnsScript = `
def square(x):
    print("task", x)
    time.sleep(0.1)
    return x * x

p = pool.remote(hosts=["h1", "h2"], workers=2)
result = p.map(square, range(60), chunksize=1)
print("result", result == [x * x for x in range(60)])
tasks = {}
for s in p.stats().values():
    tasks[s.host] = tasks.get(s.host, 0) + s.tasks
for h in sorted(tasks):
    print("host", h, tasks[h])
`

// TestNetNSHostCutMidMap runs the driver and two ssh hosts in their own
// network namespaces and cuts one host off at the switch in the middle of
// a map, silently (its packets are dropped): the ssh keepalives notice,
// the host's workers are lost, their tasks run again on the other host
// and the map completes with the right results.
func TestNetNSHostCutMidMap(t *testing.T) {
	sshtest.Require(t, sshtest.SSHDPath, "openssh-server")
	n := netnstest.New(t, "h0", "h1", "h2")
	dir := t.TempDir()

	binDir := filepath.Join(dir, "bin")
	exe := filepath.Join(binDir, "pathos-star")
	if out, err := exec.Command("go", "build", "-o", exe, "./cmd/pathos-star").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	_, key := sshtest.GenerateKey(t, dir, "id_ed25519", "")
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	var known, config strings.Builder
	for _, name := range []string{"h1", "h2"} {
		d := n.Host(name).StartSSHD(t, netnstest.SSHDOptions{AuthorizedKeys: pub, Path: []string{binDir}})
		known.WriteString(d.KnownHostsLine())
		fmt.Fprintf(&config, `Host %s
  HostName %s
  Port 22
  User root
  IdentityFile %q
  IdentitiesOnly yes
  UserKnownHostsFile %q
  StrictHostKeyChecking yes
  ServerAliveInterval 1
  ServerAliveCountMax 2
  ConnectTimeout 3
`, name, d.Host.Addr, key, filepath.Join(dir, "known_hosts"))
	}
	files := map[string]string{
		"known_hosts": known.String(),
		"ssh_config":  config.String(),
		"cut.star":    netnsScript,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	driver := n.Host("h0").Command(ctx, exe, filepath.Join(dir, "cut.star"))
	home := filepath.Join(dir, "driver-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	driver.Env = append(cleanEnv(), "HOME="+home,
		remote.EnvConfig+"="+filepath.Join(dir, "ssh_config"))
	driver.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	driver.Stderr = &stderr
	stdout, err := driver.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}

	// The output is read line by line; after the 10th task line, h1 is
	// cut off, provided its workers are running.
	var (
		mu      sync.Mutex
		lines   []string
		waitErr error
	)
	tenth := make(chan struct{})
	exited := make(chan struct{})
	began := time.Now()
	if err := driver.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		count := 0
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if strings.HasPrefix(sc.Text(), "task ") {
				if count++; count == 10 {
					close(tenth)
				}
			}
		}
		waitErr = driver.Wait() // only once stdout is read to its end
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})

	var cutAt time.Duration
	select {
	case <-tenth:
		workers := workersIn(t, n.Host("h1"))
		if workers == 0 {
			t.Fatal("10 tasks done but no worker process runs on h1")
		}
		n.Host("h1").Cut(t)
		cutAt = time.Since(began)
		t.Logf("cut h1 off at %v, after 10 tasks, with %d worker processes there", cutAt.Round(time.Millisecond), workers)
	case <-exited:
		// The driver ended before 10 tasks ran: reported below.
	}
	<-exited
	err = waitErr
	took := time.Since(began)
	mu.Lock()
	out := strings.Join(lines, "\n") + "\n"
	mu.Unlock()
	t.Logf("driver exited after %v (%v after the cut): %v", took.Round(time.Millisecond), (took - cutAt).Round(time.Millisecond), err)
	if ctx.Err() != nil {
		t.Fatalf("the driver did not finish within 2 minutes\nstdout:\n%s\nstderr:\n%s", out, stderr.String())
	}
	if err != nil {
		t.Fatalf("driver: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	if cutAt == 0 {
		t.Fatalf("the driver ended before h1 was cut off\nstdout:\n%s", out)
	}
	if !strings.Contains(out, "\nresult True\n") {
		t.Errorf("wrong results\nstdout:\n%s\nstderr:\n%s", out, stderr.String())
	}
	var twice []int // the tasks h1 had started when it was cut, run again on h2
	for x := range 60 {
		switch strings.Count(out, fmt.Sprintf("task %d\n", x)) {
		case 0:
			t.Errorf("task %d printed nothing\nstdout:\n%s", x, out)
		case 1:
		default:
			twice = append(twice, x)
		}
	}
	t.Logf("tasks that printed more than once (started again elsewhere): %v", twice)
	// Both hosts ran tasks: h1 before the cut, h2 the rest.
	for _, h := range []string{"h1", "h2"} {
		var tasks int
		if _, err := fmt.Sscanf(lineAfter(out, "host "+h+" "), "%d", &tasks); err != nil || tasks == 0 {
			t.Errorf("host %s ran no tasks\nstdout:\n%s", h, out)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("driver stdout:\n%s\ndriver stderr:\n%s", out, stderr.String())
	}
}

// cleanEnv is the test's environment without an ssh agent (so that only
// the test's key is offered), HOME and an ssh config file; the caller sets
// the last two.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, remote.EnvConfig+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// workersIn counts the pathos-star worker processes in h's namespace.
func workersIn(t *testing.T, h *netnstest.Host) int {
	pids, err := h.Processes()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, pid := range pids {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && workerCmdRE.Match(cmdline) {
			n++
		}
	}
	return n
}

// lineAfter returns the rest of the first line of out that starts with
// prefix, or "".
func lineAfter(out, prefix string) string {
	for line := range strings.SplitSeq(out, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return rest
		}
	}
	return ""
}
