package remote

import (
	"strings"
	"testing"
)

func TestParseDest(t *testing.T) {
	tests := []struct {
		in   string
		want Dest
		str  string // String() of the result; "" means in
	}{
		{in: "host", want: Dest{Host: "host"}},
		{in: "user@host", want: Dest{User: "user", Host: "host"}},
		{in: "host:2222", want: Dest{Host: "host", Port: 2222}},
		{in: "user@host:22", want: Dest{User: "user", Host: "host", Port: 22}},
		{in: "10.0.0.1:22", want: Dest{Host: "10.0.0.1", Port: 22}},
		{in: "[::1]:22", want: Dest{Host: "::1", Port: 22}},
		{in: "[::1]", want: Dest{Host: "::1"}},
		{in: "root@[fe80::1]:2200", want: Dest{User: "root", Host: "fe80::1", Port: 2200}},
		{in: "::1", want: Dest{Host: "::1"}, str: "[::1]"},
		{in: "me@corp@host", want: Dest{User: "me@corp", Host: "host"}},
		{in: "my-alias.example.com", want: Dest{Host: "my-alias.example.com"}},
	}
	for _, tt := range tests {
		got, err := ParseDest(tt.in)
		if err != nil {
			t.Errorf("ParseDest(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseDest(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if got.String() != str {
			t.Errorf("ParseDest(%q).String() = %q, want %q", tt.in, got.String(), str)
		}
	}
}

func TestParseDestErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "empty destination"},
		{"@host", "empty user name"},
		{"user@", "empty host"},
		{":22", "empty host"},
		{"host:", "empty port"},
		{"host:0", `invalid port "0"`},
		{"host:65536", `invalid port "65536"`},
		{"host:ssh", `invalid port "ssh"`},
		{"[::1", "missing ']'"},
		{"[::1]x", `unexpected "x"`},
		{"[::1]:", "empty port"},
		{"a:b:c", "too many colons"},
		{"ho st", "space"},
		{"-oProxyCommand=x", "invalid host name"},
		{"host/path", "invalid host name"},
	}
	for _, tt := range tests {
		_, err := ParseDest(tt.in)
		if err == nil {
			t.Errorf("ParseDest(%q): no error, want one containing %q", tt.in, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "ssh: ") {
			t.Errorf("ParseDest(%q): error %q, want one containing %q", tt.in, err, tt.want)
		}
	}
}
