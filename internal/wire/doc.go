// Package wire implements the protocol spoken between a pathos-star driver
// and its workers.
//
// The protocol runs over any reliable byte stream: the stdin/stdout pipes of
// a child process, a TCP connection, an ssh exec channel. The stream carries
// frames, and each frame carries one message:
//
//	frame   = length payload
//	length  = 4 bytes, big-endian unsigned: the number of bytes in payload
//	payload = exactly one CBOR data item, a map with small integer keys (a Msg)
//
// Messages are encoded with the CBOR core deterministic rules (RFC 8949
// §4.2.1), so equal messages have equal bytes. Every field has a small integer
// key that is never reused for another meaning; a message carries only its
// non-empty fields, and a receiver ignores keys it does not know, so a
// compatible addition does not change the protocol version. An incompatible
// change increments Version, which both ends compare during the handshake.
//
// Starlark values (a function, the arguments of a chunk of tasks, its
// results) travel as opaque, already encoded CBOR items in a message's Body;
// this package checks that a body is well formed, never what it means.
//
// # Limits and errors
//
// A receiver is safe on hostile bytes. A frame longer than Limits.MaxFrame,
// a truncated frame, a payload that is not a well-formed CBOR item within the
// nesting and count limits, or a message that breaks the rules of its kind
// (see Msg) makes Recv return an error that says what was wrong, and the
// connection is broken from then on: every later Recv returns the same error,
// and the caller should Close the Conn. Nothing in this package panics on
// bad input.
//
// # Conversation
//
// A connection starts with a handshake (ClientHandshake on the side that
// opened the stream, ServerHandshake on the other), three Hello messages
// that compare protocol versions, exchange Info, and, when the two ends share
// a secret, authenticate each other by an HMAC-SHA256 challenge-response in
// which the secret never crosses the wire:
//
//	server → client  Hello{Version, Info, Nonce: sn}
//	client → server  Hello{Version, Info, Nonce: cn, MAC: HMAC(secret, "pathos-star client" ‖ sn ‖ cn)}
//	server → client  Hello{Version, Info, MAC: HMAC(secret, "pathos-star server" ‖ cn ‖ sn)}
//
// Without a secret the nonces and MACs are absent (used over the stdio pipes
// of a child process, which nobody else can reach). A side that rejects the
// other sends an Error message before it gives up.
//
// After the handshake the driver sends Define (a function, once per worker,
// named by its content hash) and Call (a chunk of tasks of a map); the worker
// answers each Call with one Result, and forwards the text printed by its
// tasks as Output messages. Cancel, Ping/Pong and Bye complete the set; see
// Kind. Which side sends what after the handshake is the business of the
// scheduler, not of this package.
package wire
