package serialize

// Reset starts a new sharing scope: values encoded after it never refer
// back to values encoded before. Pools reset between tasks, so that each
// task gets its own copy of every argument.
func (e *Encoder) Reset() {
	clear(e.shared)
	e.nshared = 0
}

// Reset starts a new sharing scope, matching Encoder.Reset.
func (d *Decoder) Reset() {
	d.shared = d.shared[:0]
}
