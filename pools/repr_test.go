package pools

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

func TestArgsRepr(t *testing.T) {
	// A list shared at every level: its full repr has 2**40 leaves.
	l := starlark.NewList([]starlark.Value{starlark.MakeInt(1)})
	for range 40 {
		l = starlark.NewList([]starlark.Value{l, l})
	}
	for _, tc := range []struct {
		args starlark.Tuple
		want string
	}{
		{starlark.Tuple{starlark.MakeInt(3)}, "(3,)"},
		{starlark.Tuple{starlark.String("a"), starlark.None}, `("a", None)`},
		{starlark.Tuple{starlark.NewDict(0)}, "({},)"},
		{starlark.Tuple{starlark.String(strings.Repeat("x", 1000))}, `("` + strings.Repeat("x", 78) + "..."},
		{starlark.Tuple{l}, "([[[[[[[[..., ...], [..., ...]], [[..., ...], [..., ...]]], [[[..., ...], [..., ..."},
	} {
		got := argsRepr(tc.args)
		if got != tc.want {
			t.Errorf("argsRepr(%.40s...) = %q, want %q", tc.want, got, tc.want)
		}
		if len(got) > reprLimit+3 {
			t.Errorf("argsRepr gave %d bytes", len(got))
		}
	}
}
