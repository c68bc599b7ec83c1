package remote

import (
	"os/exec"
	"testing"
)

// awkward are strings that a careless quoting would break.
var awkward = []string{
	"",
	"plain",
	"two words",
	"it's",
	`"double"`,
	`back\slash`,
	"$HOME and $(id) and `id`",
	"semi;colon && amp | pipe",
	"glob * ? [a]",
	"new\nline\ttab",
	"'''",
	"-n",
	"a=b",
	"~user",
	"#hash",
	"ünïcödé ✓",
	"!bang",
	"{a,b}",
}

func TestShellQuoteRoundTrip(t *testing.T) {
	for _, s := range awkward {
		out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+shellQuote(s)).Output()
		if err != nil {
			t.Errorf("sh -c printf %s: %v", shellQuote(s), err)
			continue
		}
		if string(out) != s {
			t.Errorf("shellQuote(%q) = %s, which sh reads as %q", s, shellQuote(s), out)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"abc", "abc"},
		{"/usr/bin/x-y_z.1", "/usr/bin/x-y_z.1"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"a=b", "'a=b'"},
		{"~", "'~'"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestRemotePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"~", `"$HOME"`},
		{"~/", `"$HOME"/`},
		{"~/a b", `"$HOME"/'a b'`},
		{"/tmp/x", "/tmp/x"},
		{"~user/x", "'~user/x'"},
	}
	for _, tt := range tests {
		if got := remotePath(tt.in); got != tt.want {
			t.Errorf("remotePath(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestSplitRemote(t *testing.T) {
	tests := []struct {
		in         string
		dest, file string
		remote     bool
	}{
		{"host:path", "host", "path", true},
		{"host:", "host", "", true},
		{"user@host:/abs/p", "user@host", "/abs/p", true},
		{"user@[::1]:/tmp/x", "user@[::1]", "/tmp/x", true},
		{"[::1]:x:y", "[::1]", "x:y", true},
		{"host:dir/a:b", "host", "dir/a:b", true},
		{"./a:b", "", "", false},
		{"/x:y", "", "", false},
		{"dir/file", "", "", false},
		{"plain", "", "", false},
		{":leading", "", "", false},
	}
	for _, tt := range tests {
		dest, file, ok := SplitRemote(tt.in)
		if dest != tt.dest || file != tt.file || ok != tt.remote {
			t.Errorf("SplitRemote(%q) = %q, %q, %v; want %q, %q, %v", tt.in, dest, file, ok, tt.dest, tt.file, tt.remote)
		}
	}
}
