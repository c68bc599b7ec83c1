package remote

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// A Dest is an ssh destination as a user writes it: [user@]host[:port].
// The host may be a name, an ssh config alias, an IPv4 address, or an IPv6
// address, which needs brackets when a port follows ("[::1]:22"). Empty
// fields are filled in from the ssh configuration when the destination is
// resolved.
type Dest struct {
	User string // login name; empty means from the config, else the local user
	Host string // host name, config alias or IP address, without brackets
	Port int    // TCP port; 0 means from the config, else 22
}

// ParseDest parses a destination of the form [user@]host[:port]. IPv6
// addresses are written in brackets, "[::1]" or "[::1]:2222"; a bare IPv6
// address without brackets ("::1") is accepted when no port follows.
func ParseDest(s string) (Dest, error) {
	var d Dest
	if s == "" {
		return d, fmt.Errorf("ssh: empty destination")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return d, fmt.Errorf("ssh: destination %q contains a space or a control character", s)
	}
	rest := s
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		d.User, rest = rest[:i], rest[i+1:]
		if d.User == "" {
			return Dest{}, fmt.Errorf("ssh: destination %q: empty user name before '@'", s)
		}
	}
	var port string
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return Dest{}, fmt.Errorf("ssh: destination %q: missing ']' after IPv6 address", s)
		}
		d.Host = rest[1:end]
		after := rest[end+1:]
		if after != "" {
			if !strings.HasPrefix(after, ":") {
				return Dest{}, fmt.Errorf("ssh: destination %q: unexpected %q after ']'", s, after)
			}
			port = after[1:]
			if port == "" {
				return Dest{}, fmt.Errorf("ssh: destination %q: empty port after ':'", s)
			}
		}
	case strings.Count(rest, ":") > 1:
		// A bare IPv6 address; it cannot carry a port.
		if net.ParseIP(rest) == nil {
			return Dest{}, fmt.Errorf("ssh: destination %q: too many colons (write an IPv6 address with a port as [addr]:port)", s)
		}
		d.Host = rest
	default:
		host, p, found := strings.Cut(rest, ":")
		d.Host = host
		if found {
			if p == "" {
				return Dest{}, fmt.Errorf("ssh: destination %q: empty port after ':'", s)
			}
			port = p
		}
	}
	if d.Host == "" {
		return Dest{}, fmt.Errorf("ssh: destination %q: empty host", s)
	}
	if strings.HasPrefix(d.Host, "-") || strings.ContainsAny(d.Host, "/[]@") {
		return Dest{}, fmt.Errorf("ssh: destination %q: invalid host name %q", s, d.Host)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return Dest{}, fmt.Errorf("ssh: destination %q: invalid port %q (want 1 to 65535)", s, port)
		}
		d.Port = n
	}
	return d, nil
}

// String returns the destination in the form ParseDest accepts, with
// brackets around an IPv6 address that is followed by a port.
func (d Dest) String() string {
	var b strings.Builder
	if d.User != "" {
		b.WriteString(d.User)
		b.WriteByte('@')
	}
	switch {
	case d.Port != 0:
		b.WriteString(net.JoinHostPort(d.Host, strconv.Itoa(d.Port)))
	case strings.Contains(d.Host, ":"):
		b.WriteString("[" + d.Host + "]")
	default:
		b.WriteString(d.Host)
	}
	return b.String()
}
