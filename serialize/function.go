package serialize

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// A function is encoded as
//
//	tag tagFunction [name, file, line, col, lambda, text, defaults, names, values]
//
// where defaults is a flat array of parameter name, default value pairs,
// names are the free names that have bindings (module globals, closure
// cells, predeclared values), sorted, and values their values. The names
// come first because they decide how the text compiles.

func (e *Encoder) appendFunction(dst []byte, fn *starlark.Function) ([]byte, error) {
	var sn *snippet
	var err error
	if o := originOf(fn); o != nil {
		sn, err = o.snippet(fn)
	} else {
		sn, err = e.c.sources.snippet(fn)
	}
	if err != nil {
		return nil, &EncodeError{Type: "function", Msg: fmt.Sprintf("cannot serialize function %s: %v", fn.Name(), err)}
	}
	where := "function " + fn.Name()
	pos := fn.Position()
	if !utf8.ValidString(pos.Filename()) {
		return nil, &EncodeError{Type: "function", Msg: fmt.Sprintf("cannot serialize function %s: file name %q is not valid UTF-8", fn.Name(), pos.Filename())}
	}

	dst = appendHead(dst, majorTag, tagFunction)
	dst = appendHead(dst, majorArray, 9)
	dst = appendText(dst, fn.Name())
	dst = appendText(dst, pos.Filename())
	dst = appendHead(dst, majorUint, uint64(pos.Line))
	dst = appendHead(dst, majorUint, uint64(pos.Col))
	if sn.lambda {
		dst = append(dst, 0xf5)
	} else {
		dst = append(dst, 0xf4)
	}
	dst = appendText(dst, sn.text)

	dst = appendHead(dst, majorArray, 2*uint64(len(sn.defaults)))
	for _, pname := range sn.defaults {
		var dflt starlark.Value
		for i := range fn.NumParams() {
			if name, _ := fn.Param(i); name == pname {
				dflt = fn.ParamDefault(i)
				break
			}
		}
		if dflt == nil {
			return nil, &EncodeError{Type: "function", Msg: fmt.Sprintf("cannot serialize function %s: no default value for parameter %s", fn.Name(), pname)}
		}
		dst = appendText(dst, pname)
		if dst, err = e.Append(dst, dflt); err != nil {
			return nil, within(err, fmt.Sprintf("%s: default of parameter %s", where, pname))
		}
	}

	// Free names: closure cells first, then module globals, then the
	// interpreter's predeclared values. Universal builtins need nothing.
	type binding struct {
		name string
		v    starlark.Value
		kind string
	}
	var bindings []binding
	var globals starlark.StringDict
	for _, name := range sn.free {
		if v, isFree := freeVar(fn, name); isFree {
			if v == nil {
				return nil, &EncodeError{Type: "function", Msg: fmt.Sprintf("cannot serialize function %s: closure variable %q is not assigned yet", fn.Name(), name)}
			}
			bindings = append(bindings, binding{name, v, "closure variable"})
			continue
		}
		if globals == nil {
			globals = e.moduleGlobals(fn.Module())
		}
		if v, ok := globals[name]; ok {
			bindings = append(bindings, binding{name, v, "global"})
		} else if v, ok := fn.Module().Predeclared()[name]; ok {
			bindings = append(bindings, binding{name, v, "predeclared"})
		} else if !starlark.Universe.Has(name) {
			// The receiver could not compile the function.
			return nil, &EncodeError{Type: "function", Msg: fmt.Sprintf("cannot serialize function %s: global %q is not defined yet", fn.Name(), name)}
		}
	}
	dst = appendHead(dst, majorArray, uint64(len(bindings)))
	for _, b := range bindings {
		dst = appendText(dst, b.name)
	}
	dst = appendHead(dst, majorArray, uint64(len(bindings)))
	for _, b := range bindings {
		if dst, err = e.Append(dst, b.v); err != nil {
			return nil, within(err, fmt.Sprintf("%s: %s %q", where, b.kind, b.name))
		}
	}
	return dst, nil
}

func (e *Encoder) moduleGlobals(m *starlark.Module) starlark.StringDict {
	if g, ok := e.globals[m]; ok {
		return g
	}
	if e.globals == nil {
		e.globals = make(map[*starlark.Module]starlark.StringDict)
	}
	g := m.Globals()
	e.globals[m] = g
	return g
}

// freeVar reports whether name is a free variable (closure cell) of fn,
// and its value, which is nil if the cell is not assigned yet.
func freeVar(fn *starlark.Function, name string) (starlark.Value, bool) {
	for i := range fn.NumFreeVars() {
		if b, v := fn.FreeVar(i); b.Name == name {
			return v, true
		}
	}
	return nil, false
}

// decodeFunction decodes the array that follows tagFunction.
func (d *Decoder) decodeFunction(slot int) (starlark.Value, error) {
	n, err := d.arrayHeader()
	if err != nil {
		return nil, err
	}
	if n != 9 {
		return nil, d.errorf("function has %d fields, want 9", n)
	}
	name, err := d.text()
	if err != nil {
		return nil, err
	}
	file, err := d.text()
	if err != nil {
		return nil, err
	}
	line, err := d.uint()
	if err != nil {
		return nil, err
	}
	col, err := d.uint()
	if err != nil {
		return nil, err
	}
	if line < 1 || line > maxLine || col < 1 || col > maxLine {
		return nil, d.errorf("function %s has bad position %d:%d", name, line, col)
	}
	lambda, err := d.bool()
	if err != nil {
		return nil, err
	}
	text, err := d.text()
	if err != nil {
		return nil, err
	}
	key := snipKey{file, int32(line), int32(col)}
	sn := &snippet{name: name, lambda: lambda, text: text}

	env := make(starlark.StringDict)
	nd, err := d.arrayHeader()
	if err != nil {
		return nil, err
	}
	if nd%2 != 0 {
		return nil, d.errorf("odd defaults array in function %s", name)
	}
	for range nd / 2 {
		pname, err := d.text()
		if err != nil {
			return nil, err
		}
		if _, dup := env[defaultPrefix+pname]; dup {
			return nil, d.errorf("function %s: two defaults for parameter %s", name, pname)
		}
		v, err := d.Value()
		if err != nil {
			return nil, err
		}
		sn.defaults = append(sn.defaults, pname)
		env[defaultPrefix+pname] = v
	}

	nb, err := d.arrayHeader()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, min(nb, maxPrealloc))
	for range nb {
		bname, err := d.text()
		if err != nil {
			return nil, err
		}
		if len(names) > 0 && bname <= names[len(names)-1] {
			return nil, d.errorf("binding names of function %s are not sorted", name)
		}
		if strings.HasPrefix(bname, defaultPrefix) {
			return nil, d.errorf("function %s: reserved binding name %s", name, bname)
		}
		names = append(names, bname)
	}
	sn.free = names
	fn, err := d.makeFunction(key, sn, env)
	if err != nil {
		return nil, err
	}
	// The values come after the function exists, so that they may refer
	// back to it (recursion through globals, dispatch tables). The module
	// looks its predeclared names up in env at run time, so filling env
	// now binds them.
	d.fill(slot, fn)
	nv, err := d.arrayHeader()
	if err != nil {
		return nil, err
	}
	if nv != nb {
		return nil, d.errorf("function %s has %d binding names but %d values", name, nb, nv)
	}
	for _, bname := range names {
		v, err := d.Value()
		if err != nil {
			return nil, err
		}
		env[bname] = v
	}
	return fn, nil
}

// A compiled is a cached compiled function program and its origin.
type compiled struct {
	prog   *starlark.Program
	origin *origin
}

// makeFunction compiles the snippet (cached) and executes its def or
// lambda in a fresh module whose predeclared environment is env.
func (d *Decoder) makeFunction(key snipKey, sn *snippet, env starlark.StringDict) (*starlark.Function, error) {
	var b strings.Builder
	for _, s := range []string{key.file, strconv.Itoa(int(key.line)), strconv.Itoa(int(key.col)),
		sn.name, strconv.FormatBool(sn.lambda), strings.Join(sn.free, ","), strings.Join(sn.defaults, ","), sn.text} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	cacheKey := b.String()
	c := d.c.progs.get(cacheKey)
	if c == nil {
		src, err := programText(key, sn)
		if err != nil {
			return nil, d.errorf("function %s: %v", sn.name, err)
		}
		f, err := fileOptions.Parse(key.file, src, 0)
		if err != nil {
			return nil, d.errorf("function %s: %v", sn.name, err)
		}
		if tooDeep(f) {
			return nil, d.errorf("function %s: syntax nested deeper than %d levels", sn.name, maxSyntaxDepth)
		}
		fnode, err := checkShape(f, key, sn)
		if err != nil {
			return nil, d.errorf("function %s at %s:%d: %v", sn.name, key.file, key.line, err)
		}
		predeclared := make(map[string]bool, len(sn.free)+len(sn.defaults))
		for _, name := range sn.free {
			predeclared[name] = true
		}
		for _, p := range sn.defaults {
			predeclared[defaultPrefix+p] = true
		}
		prog, err := starlark.FileProgram(f, func(name string) bool { return predeclared[name] })
		if err != nil {
			return nil, d.errorf("function %s: %v", sn.name, err)
		}
		// Every binding must be a name the text uses, as the encoder
		// sends no others.
		if used := freeNames(fnode); !slices.Equal(used, sn.free) {
			return nil, d.errorf("function %s: bindings %v, but the text uses %v", sn.name, sn.free, used)
		}
		c = &compiled{prog: prog, origin: &origin{key: key, sn: sn,
			src: &sourceFile{text: string(src.Content), firstLine: src.FirstLine, firstCol: src.FirstCol}}}
		d.c.progs.put(cacheKey, c)
	}
	env[originName] = c.origin
	thread := &starlark.Thread{Name: "decode " + sn.name}
	globals, err := c.prog.Init(thread, env)
	if err != nil {
		return nil, d.errorf("function %s: %v", sn.name, err)
	}
	want := sn.name
	if sn.lambda {
		want = lambdaVar
	}
	fn, ok := globals[want].(*starlark.Function)
	if !ok {
		return nil, d.errorf("function %s: text does not define it", sn.name)
	}
	return fn, nil
}

// checkShape verifies that a decoded program is exactly one def (possibly
// inside "if 1:") or one lambda assignment, at the message's position,
// whose defaults are the synthetic names, so that executing it runs no
// other code. It returns the def or lambda.
func checkShape(f *syntax.File, key snipKey, sn *snippet) (syntax.Node, error) {
	if len(f.Stmts) != 1 {
		return nil, fmt.Errorf("source has %d statements, want 1", len(f.Stmts))
	}
	var params []syntax.Expr
	var node syntax.Node
	var pos syntax.Position
	switch s := f.Stmts[0].(type) {
	case *syntax.DefStmt:
		if sn.lambda || s.Name.Name != sn.name || key.col != 1 {
			return nil, fmt.Errorf("source defines %s", s.Name.Name)
		}
		node, params, pos = s, s.Params, s.Def
	case *syntax.IfStmt:
		cond, ok := s.Cond.(*syntax.Literal)
		if !ok || cond.Raw != "1" || len(s.True) != 1 || len(s.False) != 0 || key.col == 1 {
			return nil, fmt.Errorf("source is not a single def")
		}
		def, ok := s.True[0].(*syntax.DefStmt)
		if !ok || sn.lambda || def.Name.Name != sn.name {
			return nil, fmt.Errorf("source is not a single def of %s", sn.name)
		}
		node, params, pos = def, def.Params, def.Def
	case *syntax.AssignStmt:
		if !sn.lambda {
			return nil, fmt.Errorf("source is not a def or lambda")
		}
		lhs, ok1 := s.LHS.(*syntax.Ident)
		paren, ok2 := s.RHS.(*syntax.ParenExpr)
		if !ok1 || !ok2 || lhs.Name != lambdaVar || s.Op != syntax.EQ || sn.name != "lambda" {
			return nil, fmt.Errorf("source is not a single lambda")
		}
		lam, ok := paren.X.(*syntax.LambdaExpr)
		if !ok {
			return nil, fmt.Errorf("source is not a single lambda")
		}
		node, params, pos = lam, lam.Params, lam.Lambda
	default:
		return nil, fmt.Errorf("source is not a def or lambda")
	}
	if pos.Line != key.line || pos.Col != key.col {
		return nil, fmt.Errorf("function is at %d:%d, not %d:%d", pos.Line, pos.Col, key.line, key.col)
	}
	n := 0
	for _, p := range params {
		if bin, ok := p.(*syntax.BinaryExpr); ok && bin.Op == syntax.EQ {
			id, ok := bin.Y.(*syntax.Ident)
			if !ok || n >= len(sn.defaults) || id.Name != defaultPrefix+sn.defaults[n] ||
				bin.X.(*syntax.Ident).Name != sn.defaults[n] {
				return nil, fmt.Errorf("parameter default is not a travelling value")
			}
			n++
		}
	}
	if n != len(sn.defaults) {
		return nil, fmt.Errorf("function has %d defaults, message has %d", n, len(sn.defaults))
	}
	return node, nil
}

// maxSyntaxDepth bounds the nesting of a function's syntax tree. The
// resolver and compiler traverse the tree recursively; syntax's parser
// bounds the nesting it parses recursively, but not left-deep chains such
// as 1+1+...+1 or f()()...(), which hostile text could make deep enough to
// overflow the goroutine stack (a fatal error, not a panic).
const maxSyntaxDepth = 10000

// tooDeep reports whether the tree n nests deeper than maxSyntaxDepth,
// without itself recursing deeper than that.
func tooDeep(n syntax.Node) bool {
	depth, deep := 0, false
	syntax.Walk(n, func(n syntax.Node) bool {
		switch {
		case n == nil: // Walk's call after a node's children
			depth--
		case deep || depth >= maxSyntaxDepth:
			deep = true
			return false // Walk makes no nil call for this node
		default:
			depth++
		}
		return true
	})
	return deep
}
