package wire

import (
	"fmt"
	"strconv"

	"github.com/fxamacker/cbor/v2"
)

// Version is the protocol version this package speaks. It is carried in the
// Hello message and compared during the handshake; it changes whenever a
// change to the protocol would confuse a peer of the previous version.
const Version = 1

// HashSize is the length in bytes of a function's content hash (SHA-256).
const HashSize = 32

// A Kind says what a message is. The numbers are part of the protocol and are
// never reused.
type Kind int

// The kinds of message. The comment on each names the fields it uses (see
// Msg) and the side that sends it.
const (
	// KindHello opens a connection in both directions: Version, Info, and
	// for authentication Nonce and MAC. See ClientHandshake.
	KindHello Kind = 1
	// KindDefine (driver → worker) defines a function: Hash, Body.
	KindDefine Kind = 2
	// KindCall (driver → worker) runs a chunk of tasks of a map: ID, Hash,
	// Index, Body (a CBOR array with one argument tuple per task).
	KindCall Kind = 3
	// KindResult (worker → driver) ends a chunk: ID, and either Body (a CBOR
	// array with one result per task) or Err.
	KindResult Kind = 4
	// KindOutput (worker → driver) carries text printed by a task of a
	// chunk that has not ended yet: ID, Text.
	KindOutput Kind = 5
	// KindCancel (driver → worker) cancels the chunk ID, or every chunk in
	// flight if ID is 0. The worker still answers each cancelled chunk with
	// a Result.
	KindCancel Kind = 6
	// KindPing asks the peer to answer with a KindPong carrying the same Seq.
	KindPing Kind = 7
	// KindPong answers a KindPing: Seq.
	KindPong Kind = 8
	// KindBye announces an orderly close; it has no fields.
	KindBye Kind = 9
	// KindError reports a connection-level failure (for example a failed
	// authentication) just before its sender closes the connection:
	// Message. A task that fails is reported by a KindResult with Err.
	KindError Kind = 10
)

var kindNames = [...]string{
	KindHello:  "Hello",
	KindDefine: "Define",
	KindCall:   "Call",
	KindResult: "Result",
	KindOutput: "Output",
	KindCancel: "Cancel",
	KindPing:   "Ping",
	KindPong:   "Pong",
	KindBye:    "Bye",
	KindError:  "Error",
}

// String returns the name of the kind, such as "Call", or "Kind(42)" for a
// number that names no kind.
func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// A Msg is one message of the protocol. A single struct serves every Kind;
// a message uses only the fields its kind names (see the Kind constants) and
// leaves the others zero. The cbor tags fix the integer key of each field.
//
// Send and Recv check the rules of each kind: Define and Call have a Hash of
// HashSize bytes and a Body; the Body of a Call and of a successful Result is
// a CBOR array; Call, Result and Output have a non-zero ID; a Result has
// exactly one of Body and Err; Hello has a non-zero Version; Error has a
// Message. Fields that a kind does not use are not checked.
//
// A Msg returned by Recv belongs to the caller, who may keep it and its
// slices as long as needed: nothing in it is reused by later calls. A Msg
// given to Send is not retained after Send returns.
type Msg struct {
	Kind Kind `cbor:"1,keyasint"`

	// Hello.
	Version int    `cbor:"2,keyasint,omitempty"` // protocol version of the sender
	Info    *Info  `cbor:"3,keyasint,omitempty"` // who the sender is
	Nonce   []byte `cbor:"4,keyasint,omitempty"` // random challenge (with a secret only)
	MAC     []byte `cbor:"5,keyasint,omitempty"` // HMAC-SHA256 answer (with a secret only)

	// Define, Call, Result.
	Hash  []byte          `cbor:"6,keyasint,omitempty"` // content hash of a function
	Body  cbor.RawMessage `cbor:"7,keyasint,omitempty"` // one encoded CBOR item
	ID    uint64          `cbor:"8,keyasint,omitempty"` // chunk id, chosen by the driver
	Index int64           `cbor:"9,keyasint,omitempty"` // index in the map of the chunk's first task
	Err   *TaskError      `cbor:"10,keyasint,omitempty"`

	// Output.
	Text string `cbor:"11,keyasint,omitempty"` // one or more lines printed by a task

	// Ping, Pong.
	Seq uint64 `cbor:"12,keyasint,omitempty"`

	// Error.
	Message string `cbor:"13,keyasint,omitempty"`
}

// Roles of the two ends of a connection, carried in Info.Role.
const (
	RoleDriver = "driver" // the process that runs the script and owns the pool
	RoleWorker = "worker" // a process that runs tasks for one driver
	RoleServer = "server" // a long-running process that serves workers to drivers
)

// Info describes one end of a connection. Each side sends its own in its
// Hello message; the handshake functions return the peer's.
type Info struct {
	Role     string `cbor:"1,keyasint,omitempty"` // RoleDriver, RoleWorker or RoleServer
	PID      int    `cbor:"2,keyasint,omitempty"`
	Hostname string `cbor:"3,keyasint,omitempty"`
	GOOS     string `cbor:"4,keyasint,omitempty"`
	GOARCH   string `cbor:"5,keyasint,omitempty"`
	NumCPU   int    `cbor:"6,keyasint,omitempty"`
	Version  string `cbor:"7,keyasint,omitempty"` // version of the pathos-star program
}

// Values of TaskError.Kind.
const (
	FailError     = "error"     // the task raised an error
	FailCancelled = "cancelled" // the task was cancelled (by Cancel or a closing pool)
	FailTimeout   = "timeout"   // the task ran out of time
	FailSerialize = "serialize" // an argument or result could not be encoded or decoded
)

// A TaskError describes a task that failed, as carried by a Result message.
// It travels as data, never as a Go error string to be parsed back.
type TaskError struct {
	Index     int64  `cbor:"1,keyasint,omitempty"` // index in the map of the failed task
	Kind      string `cbor:"2,keyasint,omitempty"` // FailError, FailCancelled, FailTimeout, FailSerialize
	Message   string `cbor:"3,keyasint,omitempty"` // the error message, without traceback
	Traceback string `cbor:"4,keyasint,omitempty"` // the Starlark traceback, with original file:line
	Args      string `cbor:"5,keyasint,omitempty"` // a short repr of the task's arguments
}

// Error returns a one-line summary such as
// "task 3 (args (1, 0)): error: division by zero"; it omits the traceback.
func (e *TaskError) Error() string {
	kind := e.Kind
	if kind == "" {
		kind = FailError
	}
	if e.Args != "" {
		return fmt.Sprintf("task %d (args %s): %s: %s", e.Index, e.Args, kind, e.Message)
	}
	return fmt.Sprintf("task %d: %s: %s", e.Index, kind, e.Message)
}

// check reports whether m obeys the rules of its kind (see Msg).
func (m *Msg) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("invalid %v message: %s", m.Kind, fmt.Sprintf(format, args...))
	}
	checkHash := func() error {
		if len(m.Hash) != HashSize {
			return bad("hash is %d bytes, want %d", len(m.Hash), HashSize)
		}
		return nil
	}
	checkArray := func(what string) error {
		if len(m.Body) == 0 {
			return bad("no body")
		}
		if major := m.Body[0] >> 5; major != 4 {
			return bad("%s is a CBOR item of major type %d, want an array (4)", what, major)
		}
		return nil
	}
	switch m.Kind {
	case KindHello:
		if m.Version <= 0 {
			return bad("protocol version %d", m.Version)
		}
	case KindDefine:
		if err := checkHash(); err != nil {
			return err
		}
		if len(m.Body) == 0 {
			return bad("no body")
		}
	case KindCall:
		if m.ID == 0 {
			return bad("chunk id 0")
		}
		if err := checkHash(); err != nil {
			return err
		}
		if m.Index < 0 {
			return bad("negative task index %d", m.Index)
		}
		if err := checkArray("body"); err != nil {
			return err
		}
	case KindResult:
		if m.ID == 0 {
			return bad("chunk id 0")
		}
		switch {
		case m.Err != nil && len(m.Body) > 0:
			return bad("both a body and an error")
		case m.Err != nil:
			if m.Err.Index < 0 {
				return bad("negative task index %d in error", m.Err.Index)
			}
		default:
			if err := checkArray("body"); err != nil {
				return err
			}
		}
	case KindOutput:
		if m.ID == 0 {
			return bad("chunk id 0")
		}
	case KindCancel, KindPing, KindPong, KindBye:
		// No rules beyond the types of the fields.
	case KindError:
		if m.Message == "" {
			return bad("no message")
		}
	default:
		return fmt.Errorf("invalid message: unknown kind %d", int(m.Kind))
	}
	return nil
}
