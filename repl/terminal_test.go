package repl

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tests in this file drive the real pathos-star binary on a real
// terminal: a tmux server on a private socket.

// buildBinary builds the pathos-star command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil || tmux == "" {
		if os.Getenv("PATHOS_STAR_INTEGRATION") == "require" {
			t.Fatal("tmux is not installed (Debian package tmux) and PATHOS_STAR_INTEGRATION=require")
		}
		t.Skip("tmux is not installed (Debian package tmux); skipping terminal tests")
	}
	bin := filepath.Join(t.TempDir(), "pathos-star")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/pathos-star").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// A term is one tmux session running the binary.
type term struct {
	t    *testing.T
	sock string
}

// startTerm runs bin with args on a new terminal, with env added to the
// environment. When the program exits the pane shows "[exited CODE]".
func startTerm(t *testing.T, bin string, env []string, args ...string) *term {
	t.Helper()
	dir := t.TempDir()
	tm := &term{t: t, sock: filepath.Join(dir, "sock")}
	// The wrapper shell must outlive a Control-C meant for the program:
	// sh would otherwise die of the SIGINT once the program exits.
	cmdline := "trap : INT; env " + strings.Join(env, " ") + " " + bin + " " + strings.Join(args, " ") +
		`; echo "[exited $?]"; exec sleep 600`
	tm.tmux("-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "50", "sh", "-c", cmdline)
	t.Cleanup(func() { exec.Command("tmux", "-S", tm.sock, "kill-server").Run() })
	tm.wait(">>>")
	return tm
}

func (tm *term) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// typeLine types text and Enter.
func (tm *term) typeLine(text string) {
	tm.t.Helper()
	if text != "" {
		tm.tmux("send-keys", "-l", text)
	}
	tm.tmux("send-keys", "Enter")
}

// keys sends tmux key names (Tab, C-c, Up, ...).
func (tm *term) keys(keys ...string) {
	tm.t.Helper()
	tm.tmux(append([]string{"send-keys"}, keys...)...)
}

func (tm *term) screen() string {
	return tm.tmux("capture-pane", "-p", "-S", "-500")
}

// wait polls the screen until it contains want at least n times (default
// once), failing after a generous deadline. capture-pane drops trailing
// blanks, so the prompt shows as ">>>".
func (tm *term) wait(want string, n ...int) {
	tm.t.Helper()
	count := 1
	if len(n) > 0 {
		count = n[0]
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := tm.screen()
		if strings.Count(s, want) >= count {
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("terminal never showed %q (x%d); screen:\n%s", want, count, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTerminal(t *testing.T) {
	bin := buildBinary(t)
	noHist := []string{"XDG_STATE_HOME=" + t.TempDir()}

	t.Run("banner and completion after a dot", func(t *testing.T) {
		tm := startTerm(t, bin, noHist, "--no-history")
		tm.wait("default pool: serial")
		tm.typeLine("p = pool.threads(2)")
		tm.tmux("send-keys", "-l", "p.")
		tm.keys("Tab")
		tm.wait("terminate")
		tm.wait("uimap")
		tm.keys("C-u")
		tm.typeLine("val" + "ue_x = 3")
		tm.tmux("send-keys", "-l", "value_")
		tm.keys("Tab")
		tm.wait("value_x", 2)
		tm.typeLine(" + 1")
		tm.wait("\n4\n")
	})

	t.Run("multi-line def mapped on a process pool", func(t *testing.T) {
		tm := startTerm(t, bin, noHist, "--no-history")
		tm.typeLine("K = 7")
		tm.typeLine("def f(x):")
		tm.wait("...")
		tm.typeLine("    return x * K")
		tm.typeLine("")
		tm.typeLine("pool.processes(2).map(f, range(5))")
		tm.wait("[0, 7, 14, 21, 28]")
		tm.typeLine("pool.processes(2).map(lambda x: x + K, [1])")
		tm.wait("[8]")
		tm.keys("C-d")
		tm.wait("[exited 0]")
	})

	t.Run("Control-C stops a running loop", func(t *testing.T) {
		tm := startTerm(t, bin, noHist, "--no-history")
		tm.typeLine("def spin():")
		tm.typeLine("    print('spinning')")
		tm.typeLine("    while True: pass")
		tm.typeLine("")
		tm.typeLine("spin()")
		tm.wait("spinning\n") // the loop runs: the terminal is out of raw mode
		tm.keys("C-c")
		tm.wait("cancelled")
		tm.typeLine("n = 40")
		tm.typeLine("n + 2")
		tm.wait("\n42\n")
		// Control-C at the prompt clears the line.
		tm.tmux("send-keys", "-l", "garbage")
		tm.keys("C-c")
		tm.typeLine("n * 2")
		tm.wait("\n80\n")
		if strings.Contains(tm.screen(), "undefined: garbage") {
			t.Errorf("Control-C at the prompt did not clear the line:\n%s", tm.screen())
		}
	})

	t.Run("Control-C stops a process map", func(t *testing.T) {
		tm := startTerm(t, bin, noHist, "--no-history")
		tm.typeLine("p = pool.processes(2)")
		tm.typeLine("def slow(x):")
		tm.typeLine("    print('mapping')")
		tm.typeLine("    time.sleep(30)")
		tm.typeLine("    return x")
		tm.typeLine("")
		tm.typeLine("p.map(slow, range(8), chunksize=1)")
		tm.wait("mapping\n")
		began := time.Now()
		tm.keys("C-c")
		tm.wait("cancelled")
		if d := time.Since(began); d > 20*time.Second {
			t.Errorf("Control-C took %s to stop the map", d)
		}
		// The same pool still maps, on the same two workers.
		tm.typeLine("p.map(lambda x: x * 3, range(4))")
		tm.wait("[0, 3, 6, 9]")
		if n := len(workerProcesses(bin)); n != 2 {
			t.Errorf("%d worker processes after the interrupted map, want 2", n)
		}
		tm.keys("C-d")
		tm.wait("[exited 0]")
		if !waitUntil(10*time.Second, func() bool { return len(workerProcesses(bin)) == 0 }) {
			t.Errorf("worker processes left after exit: %v", workerProcesses(bin))
		}
	})

	t.Run("error then more work", func(t *testing.T) {
		tm := startTerm(t, bin, noHist, "--no-history")
		tm.typeLine("x = 5")
		tm.typeLine("def g():")
		tm.typeLine("    return x // 0")
		tm.typeLine("")
		tm.typeLine("g()")
		tm.wait("<stdin>:3:")
		tm.wait("division by zero")
		tm.typeLine("x * 2")
		tm.wait("\n10\n")
		tm.typeLine("_ + 1")
		tm.wait("\n11\n")
	})

	t.Run("history persists across sessions", func(t *testing.T) {
		state := t.TempDir()
		env := []string{"XDG_STATE_HOME=" + state}
		tm := startTerm(t, bin, env)
		tm.typeLine("hist_marker = 123")
		tm.typeLine("hist_marker")
		tm.wait("\n123\n")
		tm.keys("C-d")
		tm.wait("[exited 0]")
		if b, err := os.ReadFile(filepath.Join(state, "pathos-star", "history")); err != nil || !strings.Contains(string(b), "hist_marker = 123") {
			t.Fatalf("history file: %q, %v", b, err)
		}

		tm2 := startTerm(t, bin, env)
		tm2.keys("Up") // the last line of the previous session
		tm2.wait(">>> hist_marker")
		tm2.keys("C-u", "C-r")
		tm2.tmux("send-keys", "-l", "marker =")
		tm2.wait("hist_marker = 123")
		tm2.keys("Enter")
		tm2.wait(">>>", 2)
		tm2.keys("C-u")
		tm2.typeLine("hist_marker + 1")
		tm2.wait("\n124\n")
		tm2.keys("C-d")
		tm2.wait("[exited 0]")

		// --no-history neither reads nor writes it.
		before, _ := os.ReadFile(filepath.Join(state, "pathos-star", "history"))
		tm3 := startTerm(t, bin, env, "--no-history")
		tm3.typeLine("not_saved = 1")
		tm3.keys("C-d")
		tm3.wait("[exited 0]")
		after, _ := os.ReadFile(filepath.Join(state, "pathos-star", "history"))
		if string(before) != string(after) {
			t.Errorf("--no-history changed the history file:\n%s", after)
		}
	})
}

// workerProcesses lists the pids of live worker processes of bin.
func workerProcesses(bin string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.HasPrefix(string(cmdline), bin+"\x00worker") {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(stat), ") Z ") {
			continue // a zombie is gone, only not yet reaped
		}
		pids = append(pids, pid)
	}
	return pids
}

func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
