package serialize

import (
	"fmt"
	"strconv"
	"strings"

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
	sn, err := e.c.sources.snippet(fn)
	if err != nil {
		return nil, &EncodeError{Type: "function", Msg: fmt.Sprintf("cannot serialize function %s: %v", fn.Name(), err)}
	}
	where := "function " + fn.Name()

	pos := fn.Position()
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
		if v, ok := freeVar(fn, name); ok {
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

func freeVar(fn *starlark.Function, name string) (starlark.Value, bool) {
	for i := range fn.NumFreeVars() {
		if b, v := fn.FreeVar(i); b.Name == name {
			return v, v != nil
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
	if line < 1 || line > 1<<24 || col < 1 || col > 1<<24 {
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
	names := make([]string, 0, nb)
	for range nb {
		bname, err := d.text()
		if err != nil {
			return nil, err
		}
		if len(names) > 0 && bname <= names[len(names)-1] {
			return nil, d.errorf("binding names of function %s are not sorted", name)
		}
		names = append(names, bname)
	}
	fn, err := d.makeFunction(key, sn, names, env)
	if err != nil {
		return nil, err
	}
	// The values come after the function exists, so that they may refer
	// back to it (recursion through globals, dispatch tables).
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
	sn.free = names
	d.c.sources.record(key, sn)
	return fn, nil
}

// makeFunction compiles the snippet (cached) and executes its def or
// lambda in a fresh module whose predeclared environment is env.
func (d *Decoder) makeFunction(key snipKey, sn *snippet, bindings []string, env starlark.StringDict) (*starlark.Function, error) {
	src, err := programText(key, sn)
	if err != nil {
		return nil, d.errorf("function %s: %v", sn.name, err)
	}
	predeclared := make(map[string]bool, len(bindings)+len(sn.defaults))
	for _, b := range bindings {
		predeclared[b] = true
	}
	for _, p := range sn.defaults {
		predeclared[defaultPrefix+p] = true
	}
	cacheKey := key.file + "\x00" + strconv.Itoa(int(key.line)) + "\x00" + strconv.Itoa(int(key.col)) +
		"\x00" + strconv.FormatBool(sn.lambda) + "\x00" + strings.Join(bindings, ",") + "\x00" + strings.Join(sn.defaults, ",") + "\x00" + sn.text
	prog := d.c.progs.get(cacheKey)
	if prog == nil {
		f, err := fileOptions.Parse(key.file, src, 0)
		if err != nil {
			return nil, d.errorf("function %s: %v", sn.name, err)
		}
		if err := checkShape(f, sn); err != nil {
			return nil, d.errorf("function %s at %s:%d: %v", sn.name, key.file, key.line, err)
		}
		prog, err = starlark.FileProgram(f, func(name string) bool { return predeclared[name] })
		if err != nil {
			return nil, d.errorf("function %s: %v", sn.name, err)
		}
		d.c.progs.put(cacheKey, prog)
	}
	thread := &starlark.Thread{Name: "decode " + sn.name}
	globals, err := prog.Init(thread, env)
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
// inside "if True:") or one lambda assignment, whose defaults are the
// synthetic names, so that executing it runs no other code.
func checkShape(f *syntax.File, sn *snippet) error {
	if len(f.Stmts) != 1 {
		return fmt.Errorf("source has %d statements, want 1", len(f.Stmts))
	}
	var params []syntax.Expr
	switch s := f.Stmts[0].(type) {
	case *syntax.DefStmt:
		if sn.lambda || s.Name.Name != sn.name {
			return fmt.Errorf("source defines %s", s.Name.Name)
		}
		params = s.Params
	case *syntax.IfStmt:
		cond, ok := s.Cond.(*syntax.Ident)
		if !ok || cond.Name != "True" || len(s.True) != 1 || len(s.False) != 0 {
			return fmt.Errorf("source is not a single def")
		}
		def, ok := s.True[0].(*syntax.DefStmt)
		if !ok || sn.lambda || def.Name.Name != sn.name {
			return fmt.Errorf("source is not a single def of %s", sn.name)
		}
		params = def.Params
	case *syntax.AssignStmt:
		lhs, ok1 := s.LHS.(*syntax.Ident)
		paren, ok2 := s.RHS.(*syntax.ParenExpr)
		if !ok1 || !ok2 || lhs.Name != lambdaVar || s.Op != syntax.EQ || !sn.lambda {
			return fmt.Errorf("source is not a single lambda")
		}
		lam, ok := paren.X.(*syntax.LambdaExpr)
		if !ok {
			return fmt.Errorf("source is not a single lambda")
		}
		params = lam.Params
	default:
		return fmt.Errorf("source is not a def or lambda")
	}
	n := 0
	for _, p := range params {
		if bin, ok := p.(*syntax.BinaryExpr); ok && bin.Op == syntax.EQ {
			id, ok := bin.Y.(*syntax.Ident)
			if !ok || n >= len(sn.defaults) || id.Name != defaultPrefix+sn.defaults[n] {
				return fmt.Errorf("parameter default is not a travelling value")
			}
			n++
		}
	}
	if n != len(sn.defaults) {
		return fmt.Errorf("function has %d defaults, message has %d", n, len(sn.defaults))
	}
	return nil
}
