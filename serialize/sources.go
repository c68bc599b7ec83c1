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

// A sourceFile is a text whose first rune is at (firstLine, firstCol): a
// whole registered file (1, 1), or the program a decoded function was
// compiled from.
type sourceFile struct {
	text                string
	firstLine, firstCol int32
	lines               []int // byte offset of the start of each line
	parsed              *syntax.File
	err                 error
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
	s.files[filename] = &sourceFile{text: text, firstLine: 1, firstCol: 1}
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

// An origin records the program a decoded function was compiled from, so
// that the function, and any function its body defines, can be encoded
// again (a mapped function may itself call pool.map). It is stored in the
// decoded module's predeclared environment under originName, a key no
// Starlark identifier can spell, so it lives exactly as long as the
// functions that need it. An origin is shared by all decodings of one
// cached program and is safe for concurrent use.
type origin struct {
	key snipKey
	sn  *snippet // the decoded function's own snippet; free = its binding names

	mu    sync.Mutex
	src   *sourceFile // the compiled program text, for functions nested in it
	snips map[snipKey]*snippet
}

// originName is the predeclared name under which a decoded module keeps
// its origin.
const originName = "\x00serialize.origin"

func (o *origin) String() string        { return "<serialize origin>" }
func (o *origin) Type() string          { return "serialize.origin" }
func (o *origin) Freeze()               {}
func (o *origin) Truth() starlark.Bool  { return starlark.True }
func (o *origin) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", o.Type()) }

// originOf returns the origin of a function decoded by this package, or nil.
func originOf(fn *starlark.Function) *origin {
	o, _ := fn.Module().Predeclared()[originName].(*origin)
	return o
}

// snippet returns the travelling form of fn, a function of the decoded
// module: the decoded function itself, or one defined in its body.
func (o *origin) snippet(fn *starlark.Function) (*snippet, error) {
	pos := fn.Position()
	key := snipKey{pos.Filename(), pos.Line, pos.Col}
	if key == o.key {
		return o.sn, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if sn, ok := o.snips[key]; ok {
		return sn, nil
	}
	if key.file != o.key.file {
		return nil, fmt.Errorf("no source recorded for file %q", key.file)
	}
	sn, err := o.src.cut(key, fn.Name())
	if err != nil {
		return nil, err
	}
	if o.snips == nil {
		o.snips = make(map[snipKey]*snippet)
	}
	o.snips[key] = sn
	return sn, nil
}

func (f *sourceFile) parse(filename string) (*syntax.File, error) {
	if f.parsed == nil && f.err == nil {
		f.parsed, f.err = fileOptions.Parse(filename, syntax.FilePortion{
			Content: []byte(f.text), FirstLine: f.firstLine, FirstCol: f.firstCol}, 0)
		// Line breaks as the scanner counts them: \n, \r\n and a lone \r.
		f.lines = append(f.lines[:0], 0)
		for i := 0; i < len(f.text); i++ {
			switch f.text[i] {
			case '\r':
				if i+1 < len(f.text) && f.text[i+1] == '\n' {
					i++
				}
				f.lines = append(f.lines, i+1)
			case '\n':
				f.lines = append(f.lines, i+1)
			}
		}
	}
	return f.parsed, f.err
}

// offset converts a position to a byte offset in the text.
func (f *sourceFile) offset(p syntax.Position) (int, bool) {
	i := int64(p.Line) - int64(f.firstLine)
	if i < 0 || i >= int64(len(f.lines)) {
		return 0, false
	}
	off := f.lines[i]
	col := int32(1)
	if i == 0 {
		col = f.firstCol
	}
	if p.Col < col {
		return 0, false
	}
	for ; col < p.Col; col++ {
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
				start, end = syntax.MakePosition(nil, key.line, 1), spanEnd(n)
			}
		case *syntax.LambdaExpr:
			if n.Lambda.Line == key.line && n.Lambda.Col == key.col {
				found, lambda, params = true, true, n.Params
				start, end = n.Lambda, spanEnd(n)
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
	if !lambda {
		// The rest of the def's last line belongs to it: a trailing comma
		// (return 1,) or semicolon, or a comment.
		for hi < len(f.text) && f.text[hi] != '\n' && f.text[hi] != '\r' {
			hi++
		}
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
		ys, ye := syntax.Start(bin.Y), spanEnd(bin.Y)
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
	if !utf8.ValidString(sn.text) {
		return nil, fmt.Errorf("source of function %s at %s:%d is not valid UTF-8", name, key.file, key.line)
	}

	// The names the function takes from outside are those its text leaves
	// free: resolve the text alone, with every free name predeclared.
	src, err := programText(key, sn)
	if err != nil {
		return nil, err
	}
	pf, err := fileOptions.Parse(key.file, src, 0)
	if err == nil && tooDeep(pf) {
		err = fmt.Errorf("syntax nested deeper than %d levels", maxSyntaxDepth)
	}
	if err == nil {
		err = resolve.File(pf, func(string) bool { return true }, func(string) bool { return false })
	}
	if err != nil {
		return nil, fmt.Errorf("cannot isolate function %s at %s:%d: %v", name, key.file, key.line, err)
	}
	sn.free = freeNames(pf.Stmts[0])
	return sn, nil
}

// spanEnd returns the end of n: the largest end of any token in it. It
// reads the positions of closing tokens and leaves directly, because
// syntax's Span reports some ends one bracket short (index and slice
// expressions, parenthesized tuples) and recomputes starts recursively,
// which would make this quadratic in the depth of n.
func spanEnd(n syntax.Node) syntax.Position {
	var end syntax.Position
	after := func(p syntax.Position, width int32) {
		if p.Line > end.Line || p.Line == end.Line && p.Col+width > end.Col {
			end = syntax.MakePosition(nil, p.Line, p.Col+width)
		}
	}
	syntax.Walk(n, func(m syntax.Node) bool {
		switch m := m.(type) {
		case *syntax.Ident, *syntax.Literal, *syntax.BranchStmt:
			_, e := m.Span() // not recursive
			after(e, 0)
		case *syntax.ReturnStmt:
			after(m.Return, int32(len("return")))
		case *syntax.ParenExpr:
			after(m.Rparen, 1)
		case *syntax.CallExpr:
			after(m.Rparen, 1)
		case *syntax.TupleExpr:
			if m.Lparen.IsValid() {
				after(m.Rparen, 1)
			}
		case *syntax.ListExpr:
			after(m.Rbrack, 1)
		case *syntax.Comprehension:
			after(m.Rbrack, 1)
		case *syntax.DictExpr:
			after(m.Rbrace, 1)
		case *syntax.IndexExpr:
			after(m.Rbrack, 1)
		case *syntax.SliceExpr:
			after(m.Rbrack, 1)
		case *syntax.UnaryExpr:
			after(m.OpPos, 1) // a bare * in parameters or arguments
		}
		return true
	})
	return end
}

// freeNames returns the sorted names that the resolved def or lambda n
// takes from the predeclared environment, apart from its default values.
func freeNames(n syntax.Node) []string {
	var free []string
	seen := make(map[string]bool)
	syntax.Walk(n, func(n syntax.Node) bool {
		if id, ok := n.(*syntax.Ident); ok {
			if b, ok := id.Binding.(*resolve.Binding); ok && b.Scope == resolve.Predeclared &&
				!strings.HasPrefix(id.Name, defaultPrefix) && !seen[id.Name] {
				seen[id.Name] = true
				free = append(free, id.Name)
			}
		}
		return true
	})
	sort.Strings(free)
	return free
}

// lambdaVar is the global that holds a decoded lambda.
const lambdaVar = "_pathos_lambda"

// lambdaPrefix precedes a lambda's text in its program.
const lambdaPrefix = lambdaVar + " = ("

// programText returns a program that defines the snippet's function, as a
// file portion that starts where the def or lambda starts, so that every
// position in it is the original one (tracebacks show the user's file,
// line and column) and no padding need be allocated.
func programText(key snipKey, sn *snippet) (syntax.FilePortion, error) {
	if key.line < 1 || key.line > maxLine || key.col < 1 || key.col > maxLine {
		return syntax.FilePortion{}, fmt.Errorf("bad position %d:%d", key.line, key.col)
	}
	switch {
	case sn.lambda:
		src := lambdaPrefix + sn.text + "\n)\n"
		return syntax.FilePortion{Content: []byte(src), FirstLine: key.line, FirstCol: key.col - int32(len(lambdaPrefix))}, nil
	case key.col == 1:
		return syntax.FilePortion{Content: []byte(sn.text + "\n"), FirstLine: key.line, FirstCol: 1}, nil
	default:
		// A nested def: keep its indentation inside an if block on the
		// line before.
		if key.line < 2 {
			return syntax.FilePortion{}, fmt.Errorf("indented def on line %d", key.line)
		}
		src := "if 1:\n" + sn.text + "\n"
		return syntax.FilePortion{Content: []byte(src), FirstLine: key.line - 1, FirstCol: 1}, nil
	}
}

// maxLine bounds the line and column numbers a message may carry.
const maxLine = 1 << 24

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
