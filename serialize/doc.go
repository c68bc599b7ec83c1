// Package serialize converts Starlark values to and from deterministic CBOR
// (RFC 8949, core deterministic encoding), so that values and functions can
// travel between a pathos-star driver and its workers.
//
// Plain values map onto CBOR directly:
//
//	None              null
//	bool              true / false
//	int               major type 0/1, or tag 2/3 (bignum) beyond 64 bits
//	float             the shortest of float16/32/64 that keeps the value
//	string            text string; tag tagBytesString + byte string when not UTF-8
//	bytes             byte string
//	tuple             array
//	list              tag tagList + array
//	dict              tag tagDict + array k1, v1, k2, v2 ... (insertion order)
//	set               tag tagSet + array (insertion order)
//	struct            tag tagStruct + array [constructor, name1, value1, ...]
//	range             tag tagRange + array [start, stop, step]
//	builtin, module   tag tagName + "dotted.name" (resolved on the receiver)
//	bound method      tag tagMethod + array [receiver, "name"]
//	function          tag tagFunction + array (see below)
//
// Lists, dicts, sets and functions are wrapped in tag 28 (shareable), and a
// second reference to one of them within the same message is tag 29
// (sharedref) with its index. So a value referenced twice stays one value
// after decoding, and cycles (a list that contains itself, mutually
// recursive functions) round-trip.
//
// A function travels as source plus bindings: the exact text of its def or
// lambda, cut from the source registry ([Sources]) at its recorded position,
// together with the values of the names it references that are not its own
// locals: module globals, closure cells and predeclared values. Parameter
// defaults travel as values, never re-evaluated. The receiver compiles the
// text under the original file name with the original line and column
// numbers, so tracebacks point at the user's file:line. A decoded function
// can be encoded again, and so can the functions its body defines (a
// mapped function may itself call pool.map): it keeps the text it was
// compiled from. A function can travel only once the globals and closure
// variables it uses are assigned.
//
// Encoding is deterministic: the same value always gives the same bytes, so
// the SHA-256 of an encoded function ([Hash]) identifies it, and workers
// cache functions by that hash. Decoding is strict: it accepts only what
// the encoder produces, so decoding then encoding gives back the input.
//
// Decoding is safe on hostile input: it enforces [Limits] on size, nesting
// depth and element counts, never allocates more than the input justifies,
// and never panics. A decoded function's source must be a single def or
// lambda at the position the message states, with parameter defaults that
// are the travelling values, and a syntax tree at most 10,000 levels deep;
// executing it runs nothing but the def or lambda. Note that a small
// message may share lists so that the decoded value's repr (String) is
// exponentially long: print untrusted values with a bounded repr.
package serialize
