package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keys is the set of signers a login offers, with notes for the error
// message when the login fails.
type keys struct {
	signers []gossh.Signer
	tried   []string // what the signers are, in order
	locked  []string // key files that need a passphrase the agent does not cover
	notes   []string // other problems: unreadable files, an agent that did not answer
	agent   net.Conn // open agent connection, closed after the handshake
}

// close releases the agent connection.
func (k *keys) close() {
	if k.agent != nil {
		k.agent.Close()
	}
}

// loadKeys collects the signers for a login to hc: the agent's keys first
// (only those matching hc.IdentityFiles when IdentitiesOnly is set), then the
// identity files. Encrypted identity files are skipped, never prompted for.
func (c *Client) loadKeys(hc *HostConfig, timeout time.Duration) *keys {
	k := new(keys)
	seen := make(map[string]bool)
	add := func(s gossh.Signer, what string) {
		blob := string(s.PublicKey().Marshal())
		if seen[blob] {
			return
		}
		seen[blob] = true
		k.signers = append(k.signers, s)
		k.tried = append(k.tried, what)
	}

	// Public halves of the identity files, for IdentitiesOnly and to tell
	// whether the agent holds an encrypted key.
	idPub := make(map[string]bool)
	for _, f := range hc.IdentityFiles {
		if pub := identityPublicKey(f); pub != nil {
			idPub[string(pub.Marshal())] = true
		}
	}

	agentHas := make(map[string]bool)
	if c.agentSock != "" {
		conn, err := net.DialTimeout("unix", c.agentSock, timeout)
		if err != nil {
			k.notes = append(k.notes, fmt.Sprintf("ssh agent at %s: %v", c.agentSock, err))
		} else {
			k.agent = conn
			signers, err := agent.NewClient(conn).Signers()
			if err != nil {
				k.notes = append(k.notes, fmt.Sprintf("ssh agent at %s: %v", c.agentSock, err))
			}
			for _, s := range signers {
				blob := string(s.PublicKey().Marshal())
				agentHas[blob] = true
				if hc.IdentitiesOnly && !idPub[blob] {
					continue
				}
				add(s, "agent key "+describeKey(s.PublicKey()))
			}
		}
	}

	for _, f := range hc.IdentityFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			if !os.IsNotExist(err) || !hc.defaultIdentities {
				k.notes = append(k.notes, fmt.Sprintf("identity file %s: %v", f, unwrapPathError(err)))
			}
			continue
		}
		s, err := gossh.ParsePrivateKey(data)
		var missing *gossh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			pub := missing.PublicKey
			if pub == nil {
				pub = identityPublicKey(f)
			}
			if pub == nil || !agentHas[string(pub.Marshal())] {
				k.locked = append(k.locked, f)
			}
		case err != nil:
			k.notes = append(k.notes, fmt.Sprintf("identity file %s: %v", f, err))
		default:
			add(s, f)
		}
	}
	return k
}

// identityPublicKey returns the public key of the identity file f, read from
// f.pub or from f itself, or nil.
func identityPublicKey(f string) gossh.PublicKey {
	if data, err := os.ReadFile(f + ".pub"); err == nil {
		if pub, _, _, _, err := gossh.ParseAuthorizedKey(data); err == nil {
			return pub
		}
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return nil
	}
	s, err := gossh.ParsePrivateKey(data)
	if err == nil {
		return s.PublicKey()
	}
	var missing *gossh.PassphraseMissingError
	if errors.As(err, &missing) {
		return missing.PublicKey
	}
	return nil
}

// problem describes why no key could log in; it is empty when nothing
// noteworthy happened.
func (k *keys) problem() string {
	var parts []string
	if len(k.tried) > 0 {
		parts = append(parts, "tried "+strings.Join(k.tried, ", "))
	} else {
		parts = append(parts, "no usable key (no agent key and no readable unencrypted identity file)")
	}
	for _, f := range k.locked {
		parts = append(parts, fmt.Sprintf("key %s needs a passphrase: add it to the ssh agent (ssh-add %s) or use a key without one; pathos-star never prompts", f, shellQuote(f)))
	}
	parts = append(parts, k.notes...)
	return strings.Join(parts, "; ")
}

func describeKey(pub gossh.PublicKey) string {
	return pub.Type() + " " + gossh.FingerprintSHA256(pub)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// isAuthError reports whether err from a handshake means the server refused
// every key. x/crypto/ssh has no error type for it, only this message.
func isAuthError(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}
