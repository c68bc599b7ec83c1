package repl

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"go.starlark.net/starlark"
)

// keywords are the Starlark keywords offered by completion.
var keywords = []string{
	"and", "break", "continue", "def", "elif", "else", "for", "if", "in",
	"lambda", "load", "not", "or", "pass", "return", "while",
	"True", "False", "None",
}

// A completer completes, at the cursor, a name (globals, predeclared
// names, Starlark builtins, keywords), an attribute after a dot (from
// the live value: x.<Tab> lists dir(x)), or a file name inside a string
// literal. It reads the session's globals, which readline calls only
// while no statement runs.
type completer struct{ s *session }

// Do implements readline.AutoCompleter: it returns the candidates' text
// after the part already typed, and the length of that part in runes.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	before := string(line[:pos])
	if strings.TrimSpace(before) == "" {
		// Tab at the start of a line indents.
		return [][]rune{[]rune("    ")}, 0
	}
	if q, ok := openString(before); ok {
		return c.files(before[q+1:])
	}
	word := trailingWord(before)
	var cands []string
	var prefix string
	if dot := strings.LastIndexByte(word, '.'); dot >= 0 {
		prefix = word[dot+1:]
		cands = c.attrs(word[:dot])
	} else {
		prefix = word
		cands = c.names()
	}
	return suffixes(cands, prefix), len([]rune(prefix))
}

// names are the names visible at the prompt.
func (c *completer) names() []string {
	var out []string
	for k := range c.s.globals {
		out = append(out, k)
	}
	for k := range starlark.Universe {
		out = append(out, k)
	}
	return append(out, keywords...)
}

// attrs evaluates a dotted name (a.b.c) without calling anything and
// returns the attribute names of its value.
func (c *completer) attrs(path string) []string {
	parts := strings.Split(path, ".")
	v, ok := c.s.globals[parts[0]]
	if !ok {
		v, ok = starlark.Universe[parts[0]]
	}
	if !ok {
		return nil
	}
	for _, p := range parts[1:] {
		ha, ok := v.(starlark.HasAttrs)
		if !ok {
			return nil
		}
		next, err := ha.Attr(p)
		if err != nil || next == nil {
			return nil
		}
		v = next
	}
	ha, ok := v.(starlark.HasAttrs)
	if !ok {
		return nil
	}
	return ha.AttrNames()
}

// files lists the entries of the directory named by partial's directory
// part whose names start with its last element; directories end in /.
func (c *completer) files(partial string) ([][]rune, int) {
	dir, base := filepath.Split(partial)
	readDir := dir
	if readDir == "" {
		readDir = "."
	} else if strings.HasPrefix(readDir, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			readDir = filepath.Join(home, readDir[2:])
		}
	}
	entries, err := os.ReadDir(readDir)
	if err != nil {
		return nil, 0
	}
	var cands []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".") {
			continue
		}
		if e.IsDir() {
			name += "/"
		}
		cands = append(cands, name)
	}
	return suffixes(cands, base), len([]rune(base))
}

// suffixes returns, sorted and without duplicates, the remainder of each
// candidate that starts with prefix.
func suffixes(cands []string, prefix string) [][]rune {
	sort.Strings(cands)
	var out [][]rune
	last := ""
	for i, c := range cands {
		if !strings.HasPrefix(c, prefix) || (i > 0 && c == last) {
			continue
		}
		last = c
		out = append(out, []rune(c[len(prefix):]))
	}
	return out
}

// trailingWord returns the dotted name that ends at the end of s.
func trailingWord(s string) string {
	i := len(s)
	for i > 0 {
		r := rune(s[i-1])
		if r == '_' || r == '.' || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			i--
			continue
		}
		break
	}
	return s[i:]
}

// openString reports whether s ends inside a string literal, and if so
// the index of its opening quote.
func openString(s string) (int, bool) {
	open := -1
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case open >= 0 && ch == '\\':
			i++
		case open >= 0 && ch == quote:
			open = -1
		case open < 0 && (ch == '"' || ch == '\''):
			open, quote = i, ch
		case open < 0 && ch == '#':
			return -1, false
		}
	}
	return open, open >= 0
}
