package serialize_test

import (
	"fmt"
	"sync"
	"testing"

	"go.starlark.net/starlark"
)

// TestConcurrentCodecs uses one sending and one receiving codec from many
// goroutines at once, as a pool's workers do: encoding shares the source
// registry, decoding shares the program cache, and re-encoding closures
// made by decoded functions shares their origins.
func TestConcurrentCodecs(t *testing.T) {
	s := sender()
	g := s.exec(t, "conc.star", `
K = 5
def make(n):
    def add(x):
        return x + n + K
    return add
def f(x):
    return make(x)(x) * 2
`)
	r := receiver()
	const goroutines, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				for j := range rounds {
					s.sources.Add(fmt.Sprintf("other%d.star", i), fmt.Sprintf("x = %d\n", j))
					data, err := s.codec.Encode(starlark.Tuple{g["f"], g["make"]})
					if err != nil {
						return err
					}
					v, err := r.codec.Decode(data)
					if err != nil {
						return err
					}
					pair := v.(starlark.Tuple)
					thread := &starlark.Thread{}
					got, err := starlark.Call(thread, pair[0], starlark.Tuple{starlark.MakeInt(i)}, nil)
					if err != nil {
						return err
					}
					if want := starlark.MakeInt(2 * (2*i + 5)); got != want {
						return fmt.Errorf("f(%d) = %v, want %v", i, got, want)
					}
					add, err := starlark.Call(thread, pair[1], starlark.Tuple{starlark.MakeInt(j)}, nil)
					if err != nil {
						return err
					}
					data, err = r.codec.Encode(add)
					if err != nil {
						return err
					}
					if _, err := s.codec.Decode(data); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
