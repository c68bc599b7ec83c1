package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// A HostKeyError reports a host key that the known_hosts files do not
// accept: either the host is unknown (Changed is false) or known_hosts holds
// a different key for it (Changed is true). A changed key is never accepted.
type HostKeyError struct {
	Addr    string                // the host:port whose key was checked
	Key     gossh.PublicKey       // the key the server offered
	Changed bool                  // known_hosts holds another key for Addr
	Known   []knownhosts.KnownKey // the keys on record for Addr, when Changed
	Files   []string              // the known_hosts files consulted
}

// Error explains the problem and what to do about it.
func (e *HostKeyError) Error() string {
	entry := knownhosts.Normalize(e.Addr)
	offered := fmt.Sprintf("%s key %s", e.Key.Type(), gossh.FingerprintSHA256(e.Key))
	if e.Changed {
		k := e.Known[0]
		return fmt.Sprintf("host key for %s has CHANGED: the server offered %s, but %s line %d holds a different %s key "+
			"(someone may be intercepting the connection); if the change is expected, remove the old key with "+
			"`ssh-keygen -f %s -R %s` and connect again",
			entry, offered, k.Filename, k.Line, k.Key.Type(), shellQuote(k.Filename), shellQuote(entry))
	}
	host, port, _ := net.SplitHostPort(e.Addr)
	scan := "ssh-keyscan"
	if port != "22" {
		scan += " -p " + port
	}
	file := "~/.ssh/known_hosts"
	if len(e.Files) > 0 {
		file = shellQuote(e.Files[0])
	}
	return fmt.Sprintf("host %s is unknown: no key for it in %s (the server offered %s); "+
		"check the key and add it with `%s %s >> %s`, or set StrictHostKeyChecking accept-new for this host in the ssh config",
		entry, strings.Join(e.Files, ", "), offered, scan, shellQuote(host), file)
}

// hostKeyCheck returns the host key callback for a connection to hc and
// the host key algorithms to ask for: the types of the keys known_hosts holds
// for hc, or nil (the defaults) when it holds none.
func (c *Client) hostKeyCheck(hc *HostConfig) (gossh.HostKeyCallback, []string, error) {
	addr := hc.Addr()
	var existing []string
	for _, f := range hc.KnownHostsFiles {
		st, err := os.Stat(f)
		switch {
		case err == nil && st.Mode().IsRegular():
			existing = append(existing, f)
		case err != nil && !os.IsNotExist(err):
			return nil, nil, fmt.Errorf("known_hosts file %q: %v", f, err)
		}
	}
	var db gossh.HostKeyCallback
	if len(existing) > 0 {
		var err error
		db, err = knownhosts.New(existing...)
		if err != nil {
			return nil, nil, fmt.Errorf("known_hosts: %v", err)
		}
	}
	known := knownKeys(db, addr)
	check := func(_ string, _ net.Addr, key gossh.PublicKey) error {
		err := error(&knownhosts.KeyError{})
		if db != nil {
			// Check the configured address, not what the transport saw:
			// through a jump host the remote address is meaningless.
			err = db(addr, &net.TCPAddr{}, key)
		}
		if err == nil {
			return nil
		}
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) {
			return fmt.Errorf("host key for %s: %v", knownhosts.Normalize(addr), err)
		}
		hkErr := &HostKeyError{Addr: addr, Key: key, Changed: len(ke.Want) > 0, Known: ke.Want, Files: hc.KnownHostsFiles}
		if hkErr.Changed || hc.StrictHostKeyChecking == StrictYes || len(hc.KnownHostsFiles) == 0 {
			return hkErr
		}
		return c.addKnownHost(hc.KnownHostsFiles[0], addr, key)
	}
	return check, hostKeyAlgorithms(known), nil
}

// knownKeys returns the keys db holds for addr. The knownhosts package has
// no lookup, so it asks db about a key that cannot match: the mismatch
// error lists every key on record.
func knownKeys(db gossh.HostKeyCallback, addr string) []knownhosts.KnownKey {
	if db == nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := db(addr, &net.TCPAddr{}, probeKey{}); errors.As(err, &ke) {
		return ke.Want
	}
	return nil
}

// probeKey is a public key that matches no known_hosts line.
type probeKey struct{}

func (probeKey) Type() string    { return "pathos-star-probe" }
func (probeKey) Marshal() []byte { return []byte("\x00\x00\x00\x11pathos-star-probe") }
func (probeKey) Verify([]byte, *gossh.Signature) error {
	return errors.New("probe key verifies nothing")
}

// hostKeyAlgorithms returns the host key algorithms that match the key
// types in known, preferring the order they appear in.
func hostKeyAlgorithms(known []knownhosts.KnownKey) []string {
	var algos []string
	for _, k := range known {
		var these []string
		switch t := k.Key.Type(); t {
		case gossh.KeyAlgoRSA:
			these = []string{gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSA}
		default:
			these = []string{t}
		}
		for _, a := range these {
			algos = appendUnique(algos, a)
		}
	}
	return algos
}

// addKnownHost appends a line for addr and key to the known_hosts file
// unless a concurrent connection has already added it.
func (c *Client) addKnownHost(file, addr string, key gossh.PublicKey) error {
	c.khMu.Lock()
	defer c.khMu.Unlock()
	if data, err := os.ReadFile(file); err == nil {
		if db, err := knownhosts.New(file); err == nil && db(addr, &net.TCPAddr{}, key) == nil {
			return nil
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			if err := appendFile(file, "\n"); err != nil {
				return err
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("recording host key of %s: %v", knownhosts.Normalize(addr), err)
	}
	if err := appendFile(file, knownhosts.Line([]string{addr}, key)+"\n"); err != nil {
		return fmt.Errorf("recording host key of %s: %v", knownhosts.Normalize(addr), err)
	}
	return nil
}

func appendFile(name, s string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
