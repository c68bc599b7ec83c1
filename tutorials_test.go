package pathosstar_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	pathosstar "github.com/pathos-star/pathos-star"
	"github.com/pathos-star/pathos-star/internal/sshtest"
	"github.com/pathos-star/pathos-star/remote"
)

// A tutorial block is a fenced ```starlark block and the ```output block
// that follows it, if any.
type tutorialBlock struct {
	code, output string
	line         int
	hasOutput    bool
}

var fenceRE = regexp.MustCompile("(?s)```(starlark|output)\n(.*?)```")

func tutorialBlocks(text string) []tutorialBlock {
	var blocks []tutorialBlock
	for _, m := range fenceRE.FindAllStringSubmatchIndex(text, -1) {
		kind, body := text[m[2]:m[3]], text[m[4]:m[5]]
		line := strings.Count(text[:m[0]], "\n") + 1
		if kind == "starlark" {
			blocks = append(blocks, tutorialBlock{code: body, line: line})
		} else if n := len(blocks); n > 0 && !blocks[n-1].hasOutput {
			blocks[n-1].output, blocks[n-1].hasOutput = body, true
		}
	}
	return blocks
}

// TestTutorials runs every starlark block of every tutorial, in order, in
// one interpreter per tutorial, and checks that each prints its output
// block. A tutorial that mentions the host "testhost" runs against a real
// sshd whose ssh config calls it so.
func TestTutorials(t *testing.T) {
	files, _ := filepath.Glob("tutorials/*.md")
	if len(files) == 0 {
		t.Fatal("no tutorials")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			blocks := tutorialBlocks(string(text))
			if len(blocks) == 0 {
				t.Fatal("no starlark blocks")
			}
			if strings.Contains(string(text), "testhost") {
				// The host has the real pathos-star on its PATH.
				d := sshtest.StartSSHD(t)
				t.Setenv(remote.EnvConfig, d.ConfigFile)
				bin := filepath.Join(d.Home, "bin", "pathos-star")
				if out, err := exec.Command("go", "build", "-o", bin, "./cmd/pathos-star").CombinedOutput(); err != nil {
					t.Fatalf("go build: %v\n%s", err, out)
				}
			}
			// One script, the blocks at their own lines, with a marker
			// printed after each block to split the output.
			const marker = "\x1e"
			var src strings.Builder
			lines := 0
			for _, b := range blocks {
				src.WriteString(strings.Repeat("\n", b.line-lines))
				src.WriteString(b.code)
				src.WriteString("print(\"\\x1e\")\n")
				lines = b.line + strings.Count(b.code, "\n") + 1
			}
			var out bytes.Buffer
			in, err := pathosstar.New(pathosstar.WithStdout(&out))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			if _, err := in.Run(ctx, file, src.String()); err != nil {
				t.Fatalf("%v\noutput so far:\n%s", err, out.String())
			}
			outs := strings.Split(out.String(), marker+"\n")
			for i, b := range blocks {
				if i >= len(outs) {
					t.Fatalf("%s:%d: no output", file, b.line)
				}
				if b.hasOutput && outs[i] != b.output {
					t.Errorf("%s:%d: block printed\n%s\nwant\n%s", file, b.line, outs[i], b.output)
				}
			}
		})
	}
}
