package serialize

import (
	"sort"
	"unicode/utf8"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Names is the table of values that travel by name rather than by value:
// the universal builtins (len, sorted, ...), the interpreter's predeclared
// builtins and modules (pool, math, ...), and the members of those modules
// (math.sqrt, json.encode). Both ends of a connection build it from the same
// predeclared environment, so a name resolves to the receiver's own value.
//
// A Names is immutable after construction and safe for concurrent use.
type Names struct {
	predeclared starlark.StringDict
	byName      map[string]starlark.Value
	byValue     map[any]string
	visiting    map[*starlarkstruct.Module]bool // during construction
}

// NewNames builds the table from the universe and the given predeclared
// environment.
func NewNames(predeclared starlark.StringDict) *Names {
	n := &Names{
		predeclared: predeclared,
		byName:      make(map[string]starlark.Value),
		byValue:     make(map[any]string),
	}
	n.visiting = make(map[*starlarkstruct.Module]bool)
	n.addAll(starlark.Universe)
	n.addAll(predeclared)
	n.visiting = nil
	return n
}

func (n *Names) addAll(env starlark.StringDict) {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic choice when one value has two names
	for _, k := range keys {
		n.add(k, env[k])
	}
}

func (n *Names) add(name string, v starlark.Value) {
	key, ok := identity(v)
	if !ok || !utf8.ValidString(name) {
		return
	}
	n.byName[name] = v
	if _, dup := n.byValue[key]; !dup {
		n.byValue[key] = name
	}
	if m, ok := v.(*starlarkstruct.Module); ok && !n.visiting[m] {
		n.visiting[m] = true // a module may contain itself
		defer delete(n.visiting, m)
		members := make([]string, 0, len(m.Members))
		for k := range m.Members {
			members = append(members, k)
		}
		sort.Strings(members)
		for _, k := range members {
			n.add(name+"."+k, m.Members[k])
		}
	}
}

// identity returns a comparable key for values that have identity
// (builtins, modules and other pointer-typed values).
func identity(v starlark.Value) (any, bool) {
	switch v := v.(type) {
	case *starlark.Builtin:
		if v.Receiver() != nil {
			return nil, false
		}
		return v, true
	case *starlarkstruct.Module:
		return v, true
	case NamedValue:
		return v, true
	}
	return nil, false
}

// A NamedValue is a predeclared value of a custom type (such as a module
// implemented in Go) that travels by its predeclared name.
// Implementations must be comparable (pointer types).
type NamedValue interface {
	starlark.Value
	TravelsByName()
}

func (n *Names) nameOf(v starlark.Value) (string, bool) {
	key, ok := identity(v)
	if !ok {
		return "", false
	}
	name, ok := n.byValue[key]
	return name, ok
}

// Lookup returns the value with the given dotted name.
func (n *Names) Lookup(name string) (starlark.Value, bool) {
	v, ok := n.byName[name]
	return v, ok
}

// Predeclared returns the value of a predeclared (not universal) name.
func (n *Names) Predeclared(name string) (starlark.Value, bool) {
	v, ok := n.predeclared[name]
	return v, ok
}
