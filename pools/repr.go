package pools

import (
	"strings"

	"go.starlark.net/starlark"
)

// reprLimit bounds the repr of a task's arguments in error messages.
const reprLimit = 80

// argsRepr returns a short repr of a task's arguments. Unlike String, it
// stops as soon as it has enough: arguments may be huge, or share
// sub-lists so that their full repr is exponentially long.
func argsRepr(args starlark.Tuple) string {
	var b strings.Builder
	writeRepr(&b, args, 0)
	if b.Len() > reprLimit {
		return b.String()[:reprLimit] + "..."
	}
	return b.String()
}

func writeRepr(b *strings.Builder, v starlark.Value, depth int) {
	if b.Len() > reprLimit {
		return
	}
	elems := func(open, close string, n int, at func(int) starlark.Value, trailingComma bool) {
		b.WriteString(open)
		for i := range n {
			if b.Len() > reprLimit {
				b.WriteString("...")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, at(i), depth+1)
		}
		if trailingComma && n == 1 {
			b.WriteString(",")
		}
		b.WriteString(close)
	}
	if depth > 8 {
		b.WriteString("...")
		return
	}
	switch v := v.(type) {
	case starlark.String:
		if len(v) > reprLimit {
			v = v[:reprLimit]
		}
		b.WriteString(v.String())
	case starlark.Bytes:
		if len(v) > reprLimit {
			v = v[:reprLimit]
		}
		b.WriteString(v.String())
	case starlark.Tuple:
		elems("(", ")", len(v), func(i int) starlark.Value { return v[i] }, true)
	case *starlark.List:
		elems("[", "]", v.Len(), v.Index, false)
	case *starlark.Dict:
		items := v.Items()
		b.WriteString("{")
		for i, kv := range items {
			if b.Len() > reprLimit {
				b.WriteString("...")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, kv[0], depth+1)
			b.WriteString(": ")
			writeRepr(b, kv[1], depth+1)
		}
		b.WriteString("}")
	case starlark.NoneType, starlark.Bool, starlark.Int, starlark.Float:
		s := v.String()
		if len(s) > reprLimit {
			s = s[:reprLimit]
		}
		b.WriteString(s)
	default:
		b.WriteString("<" + v.Type() + ">")
	}
}
