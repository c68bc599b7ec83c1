package serialize

import (
	"crypto/sha256"
	"sync"

	"go.starlark.net/starlark"
)

// Limits bounds what a decoder accepts. The zero value of a field means its
// default.
type Limits struct {
	MaxSize  int // bytes in one message; default 1 GiB
	MaxDepth int // nesting of containers, when encoding too; default 10,000
	MaxItems int // values in one message; default 1<<26
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = 1 << 30
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 10000
	}
	if l.MaxItems <= 0 {
		l.MaxItems = 1 << 26
	}
	return l
}

// A Codec encodes and decodes Starlark values for one interpreter: it knows
// the interpreter's source registry (to cut out function source) and its
// predeclared names (to send builtins and modules by name).
//
// A Codec is safe for concurrent use; each Encoder and Decoder it makes is
// not.
type Codec struct {
	sources *Sources
	names   *Names
	limits  Limits
	progs   progCache
}

// NewCodec returns a codec that takes function source from sources and
// resolves builtins and modules through names. A nil sources is an empty
// registry.
func NewCodec(sources *Sources, names *Names, limits Limits) *Codec {
	if sources == nil {
		sources = NewSources()
	}
	if names == nil {
		names = NewNames(nil)
	}
	return &Codec{sources: sources, names: names, limits: limits.withDefaults()}
}

// Sources returns the codec's source registry.
func (c *Codec) Sources() *Sources { return c.sources }

// Names returns the codec's table of values that travel by name.
func (c *Codec) Names() *Names { return c.names }

// Encode returns the deterministic CBOR encoding of v.
func (c *Codec) Encode(v starlark.Value) ([]byte, error) {
	return c.NewEncoder().Append(nil, v)
}

// Decode decodes one value that must fill all of data. The result is not
// frozen.
func (c *Codec) Decode(data []byte) (starlark.Value, error) {
	d := c.NewDecoder(data)
	v, err := d.Value()
	if err != nil {
		return nil, err
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	return v, nil
}

// Hash returns the content hash of an encoded value, such as a function.
func Hash(data []byte) [32]byte { return sha256.Sum256(data) }

// progCache caches compiled function programs, keyed by everything that
// decides how they compile: text, file, position, name and the names they
// take from their environment.
type progCache struct {
	mu    sync.Mutex
	m     map[string]*compiled
	bytes int // total length of the keys, which hold the texts
}

func (pc *progCache) get(key string) *compiled {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.m[key]
}

func (pc *progCache) put(key string, p *compiled) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.m == nil {
		pc.m = make(map[string]*compiled)
	}
	// Bound the cache; programs recompile cheaply.
	if len(pc.m) >= 4096 || pc.bytes+len(key) > 64<<20 {
		clear(pc.m)
		pc.bytes = 0
	}
	pc.m[key] = p
	pc.bytes += len(key)
}
