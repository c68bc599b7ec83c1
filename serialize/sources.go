package serialize

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Sources is the registry of every source text an interpreter has executed
// (files, -c strings, REPL chunks), keyed by file name. The encoder cuts a
// function's def or lambda out of it by the function's position.
//
// A Sources is safe for concurrent use.
type Sources struct {
	mu    sync.Mutex
	files map[string]*sourceFile
	snips map[snipKey]*snippet
}

type sourceFile struct {
	text   string
	lines  []int // byte offset of the start of each line
	parsed *syntax.File
	err    error
}

type snipKey struct {
	file      string
	line, col int32
}

// A snippet is the travelling form of one def or lambda.
type snippet struct {
	name     string
	lambda   bool
	text     string   // the def's lines, or the lambda expression; default values replaced by names
	defaults []string // names of the parameters with defaults, in source order
	free     []string // names the function takes from outside, sorted
}

// defaultPrefix starts the synthetic names that stand for parameter
// default values in a snippet.
const defaultPrefix = "_pathos_default_"

// NewSources returns an empty registry.
func NewSources() *Sources {
	return &Sources{files: make(map[string]*sourceFile), snips: make(map[snipKey]*snippet)}
}

// Add records the text of the named file. Adding a name again replaces its
// text; a REPL adds its growing transcript under one name, each chunk
// padded to its own lines, so earlier functions stay valid.
func (s *Sources) Add(filename, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.files[filename]
	if old != nil && old.text == text {
		return
	}
	if old != nil && !strings.HasPrefix(text, old.text) {
		for k := range s.snips {
			if k.file == filename {
				delete(s.snips, k)
			}
		}
	}
	s.files[filename] = &sourceFile{text: text}
}

// Text returns the recorded text of the named file.
func (s *Sources) Text(filename string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[filename]
	if !ok {
		return "", false
	}
	return f.text, true
}

// snippet returns the travelling form of fn, cutting it from the registry
// the first time.
func (s *Sources) snippet(fn *starlark.Function) (*snippet, error) {
	pos := fn.Position()
	key := snipKey{pos.Filename(), pos.Line, pos.Col}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sn, ok := s.snips[key]; ok {
		return sn, nil
	}
	f, ok := s.files[key.file]
	if !ok {
		return nil, fmt.Errorf("no source recorded for file %q", key.file)
	}
	sn, err := f.cut(key, fn.Name())
	if err != nil {
		return nil, err
	}
	s.snips[key] = sn
	return sn, nil
}

// record remembers a snippet that arrived in a message, so that a
// function decoded here can be encoded again (by a nested map).
func (s *Sources) record(key snipKey, sn *snippet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.snips[key]; !ok {
		s.snips[key] = sn
	}
}

func (f *sourceFile) parse(filename string) (*syntax.File, error) {
	if f.parsed == nil && f.err == nil {
		f.parsed, f.err = fileOptions.Parse(filename, f.text, 0)
		f.lines = append(f.lines[:0], 0)
		for i := 0; i < len(f.text); i++ {
			if f.text[i] == '\n' {
				f.lines = append(f.lines, i+1)
			}
		}
	}
	return f.parsed, f.err
}

// offset converts a position to a byte offset in the text.
func (f *sourceFile) offset(p syntax.Position) (int, bool) {
	if p.Line < 1 || int(p.Line) > len(f.lines) || p.Col < 1 {
		return 0, false
	}
	off := f.lines[p.Line-1]
	for c := int32(1); c < p.Col; c++ {
		if off >= len(f.text) {
			return 0, false
		}
		_, size := utf8.DecodeRuneInString(f.text[off:])
		off += size
	}
	return off, true
}

// cut finds the def or lambda at key and builds its snippet.
func (f *sourceFile) cut(key snipKey, name string) (*snippet, error) {
	file, err := f.parse(key.file)
	if err != nil {
		return nil, fmt.Errorf("cannot parse recorded source of %s: %v", key.file, err)
	}
	var params []syntax.Expr
	var start, end syntax.Position
	found, lambda := false, false
	syntax.Walk(file, func(n syntax.Node) bool {
		if found {
			return false
		}
		switch n := n.(type) {
		case *syntax.DefStmt:
			if n.Def.Line == key.line && n.Def.Col == key.col {
				found, params = true, n.Params
				_, end = n.Span()
				start = syntax.MakePosition(nil, key.line, 1)
			}
		case *syntax.LambdaExpr:
			if n.Lambda.Line == key.line && n.Lambda.Col == key.col {
				found, lambda, params = true, true, n.Params
				start, end = n.Span()
			}
		}
		return !found
	})
	if !found {
		return nil, fmt.Errorf("no def or lambda at %s:%d:%d in the recorded source", key.file, key.line, key.col)
	}
	lo, ok1 := f.offset(start)
	hi, ok2 := f.offset(end)
	if !ok1 || !ok2 || lo > hi {
		return nil, fmt.Errorf("bad source span for function %s at %s:%d", name, key.file, key.line)
	}
	// Replace each default value expression by a synthetic name, keeping
	// the line count so that line numbers stay the original ones.
	sn := &snippet{name: name, lambda: lambda}
	var b strings.Builder
	at := lo
	for _, p := range params {
		bin, ok := p.(*syntax.BinaryExpr)
		if !ok || bin.Op != syntax.EQ {
			continue
		}
		pname := bin.X.(*syntax.Ident).Name
		ys, ye := bin.Y.Span()
		yl, ok1 := f.offset(ys)
		yh, ok2 := f.offset(ye)
		if !ok1 || !ok2 || yl < at || yh > hi {
			return nil, fmt.Errorf("bad default span for parameter %s of %s", pname, name)
		}
		b.WriteString(f.text[at:yl])
		b.WriteString(defaultPrefix + pname)
		b.WriteString(strings.Repeat("\n", strings.Count(f.text[yl:yh], "\n")))
		at = yh
		sn.defaults = append(sn.defaults, pname)
	}
	b.WriteString(f.text[at:hi])
	sn.text = b.String()

	// The names the function takes from outside are those its text leaves
	// free: resolve the text alone, with every free name predeclared.
	src, err := programText(key, sn)
	if err != nil {
		return nil, err
	}
	pf, err := fileOptions.Parse(key.file, src, 0)
	if err == nil {
		err = resolve.File(pf, func(string) bool { return true }, func(string) bool { return false })
	}
	if err != nil {
		return nil, fmt.Errorf("cannot isolate function %s at %s:%d: %v", name, key.file, key.line, err)
	}
	seen := make(map[string]bool)
	syntax.Walk(pf, func(n syntax.Node) bool {
		if id, ok := n.(*syntax.Ident); ok {
			if b, ok := id.Binding.(*resolve.Binding); ok && b.Scope == resolve.Predeclared &&
				!strings.HasPrefix(id.Name, defaultPrefix) && !seen[id.Name] {
				seen[id.Name] = true
				sn.free = append(sn.free, id.Name)
			}
		}
		return true
	})
	sort.Strings(sn.free)
	return sn, nil
}

// lambdaVar is the global that holds a decoded lambda.
const lambdaVar = "_pathos_lambda"

// programText returns a program that defines the snippet's function with
// every line at its original number.
func programText(key snipKey, sn *snippet) (string, error) {
	if key.line < 1 || key.line > 1<<24 {
		return "", fmt.Errorf("bad line number %d", key.line)
	}
	var b strings.Builder
	switch {
	case sn.lambda:
		b.WriteString(strings.Repeat("\n", int(key.line-1)))
		b.WriteString(lambdaVar + " = (")
		b.WriteString(sn.text)
		b.WriteString("\n)\n")
	case key.col == 1:
		b.WriteString(strings.Repeat("\n", int(key.line-1)))
		b.WriteString(sn.text)
		b.WriteString("\n")
	default:
		// A nested def: keep its indentation inside an if block.
		if key.line < 2 {
			return "", fmt.Errorf("indented def on line %d", key.line)
		}
		b.WriteString(strings.Repeat("\n", int(key.line-2)))
		b.WriteString("if True:\n")
		b.WriteString(sn.text)
		b.WriteString("\n")
	}
	return b.String(), nil
}

// fileOptions are the options under which function snippets are parsed
// and compiled: the most permissive, since the text already passed the
// interpreter's own options.
var fileOptions = &syntax.FileOptions{
	Set:             true,
	While:           true,
	TopLevelControl: true,
	GlobalReassign:  true,
	Recursion:       true,
}
