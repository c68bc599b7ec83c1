package repl

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestComplete(t *testing.T) {
	s, _, _ := newTestSession(t)
	s.exec(context.Background(), "p = pool.serial()\nr = p.amap(len, ['ab'])\nvalue_a = 1\nvalue_b = 'x'\n")
	dir := t.TempDir()
	for _, f := range []string{"data.csv", "data.json", "other.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "datadir"), 0o700); err != nil {
		t.Fatal(err)
	}
	c := &completer{s: s}
	for _, tc := range []struct {
		line    string
		want    []string // suffixes that must be offered
		notWant []string
		length  int
	}{
		{line: "p.", want: []string{"map", "amap", "terminate", "nodes"}, length: 0},
		{line: "p.ma", want: []string{"p"}, notWant: []string{"amap"}, length: 2},
		{line: "r.", want: []string{"get", "ready", "wait", "successful"}},
		{line: "x = pool.", want: []string{"map", "processes", "threads"}},
		{line: "value_", want: []string{"a", "b"}, length: 6},
		{line: "value_b.up", want: []string{"per"}, length: 2},
		{line: "so", want: []string{"rted"}, length: 2},
		{line: "whi", want: []string{"le"}, length: 3},
		{line: "pi", want: []string{"pe"}, length: 2},
		{line: "open('" + dir + "/da", want: []string{"ta.csv", "ta.json", "tadir/"}, notWant: []string{"her.txt"}, length: 2},
		{line: "nosuch.", want: nil},
		{line: "    ", want: []string{"    "}},
	} {
		got, n := c.Do([]rune(tc.line), len([]rune(tc.line)))
		var gs []string
		for _, g := range got {
			gs = append(gs, string(g))
		}
		for _, w := range tc.want {
			if !slices.Contains(gs, w) {
				t.Errorf("complete %q: got %q, want it to include %q", tc.line, gs, w)
			}
		}
		for _, w := range tc.notWant {
			if slices.Contains(gs, w) {
				t.Errorf("complete %q: got %q, want it without %q", tc.line, gs, w)
			}
		}
		if tc.want == nil && len(gs) > 0 {
			t.Errorf("complete %q: got %q, want nothing", tc.line, gs)
		}
		if n != tc.length {
			t.Errorf("complete %q: replaced length %d, want %d", tc.line, n, tc.length)
		}
	}
}

func TestOpenString(t *testing.T) {
	for _, tc := range []struct {
		s    string
		at   int
		open bool
	}{
		{`x = "ab`, 4, true},
		{`x = "ab"`, -1, false},
		{`x = 'a\'b`, 4, true},
		{`"a" + 'b`, 6, true},
		{`x # "ab`, -1, false},
	} {
		at, open := openString(tc.s)
		if open != tc.open || (open && at != tc.at) {
			t.Errorf("openString(%q) = %d, %v, want %d, %v", tc.s, at, open, tc.at, tc.open)
		}
	}
}
