package starlib

import (
	"context"
	"fmt"
	"math"
	"time"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/pathos-star/pathos-star/pools"
)

// TimeModule returns go.starlark.net's time module with sleep added.
func TimeModule() *starlarkstruct.Module {
	members := make(starlark.StringDict, len(startime.Module.Members)+1)
	for k, v := range startime.Module.Members {
		members[k] = v
	}
	members["sleep"] = starlark.NewBuiltin("sleep", sleep)
	return &starlarkstruct.Module{Name: "time", Members: members}
}

// sleep(seconds) pauses the thread; cancelling the thread's context (Ctrl-C,
// a map's timeout) ends it early with an error.
func sleep(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var secs starlark.Value
	if err := starlark.UnpackPositionalArgs("time.sleep", args, kwargs, 1, &secs); err != nil {
		return nil, err
	}
	f, ok := starlark.AsFloat(secs)
	if !ok {
		return nil, fmt.Errorf("time.sleep: got %s, want int or float", secs.Type())
	}
	if f < 0 || math.IsNaN(f) {
		return nil, fmt.Errorf("time.sleep: negative or NaN duration %v", secs)
	}
	if f > float64(math.MaxInt64)/1e9 {
		f = float64(math.MaxInt64) / 1e9
	}
	ctx := pools.ContextOf(thread)
	t := time.NewTimer(time.Duration(f * 1e9))
	defer t.Stop()
	select {
	case <-t.C:
		return starlark.None, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("time.sleep: %v", context.Cause(ctx))
	}
}
