package remote

import (
	"fmt"
	"net"
	"os"
	osuser "os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// EnvConfig is the environment variable that names the ssh client
// configuration file to read instead of ~/.ssh/config. NewClient reads it;
// [WithConfigFile] takes precedence over it.
const EnvConfig = "PATHOS_STAR_SSH_CONFIG"

// Values of HostConfig.StrictHostKeyChecking.
const (
	StrictYes       = "yes"        // unknown hosts are refused
	StrictNo        = "no"         // unknown hosts are accepted and recorded
	StrictAcceptNew = "accept-new" // unknown hosts are accepted and recorded
)

// A HostConfig is a destination resolved through the ssh configuration: the
// values a connection to it uses. Paths in it have "~" and the %-tokens
// expanded.
type HostConfig struct {
	Alias          string   // the host as given in the destination, before HostName
	HostName       string   // the name or address dialled
	Port           int      // the TCP port dialled
	User           string   // the login name
	IdentityFiles  []string // key files to try after the agent, in order
	IdentitiesOnly bool     // use only agent keys that match IdentityFiles

	// ProxyJump lists the jump hosts, each a destination resolved through
	// the configuration in its turn; the first is dialled first.
	ProxyJump []string

	KnownHostsFiles       []string      // known_hosts files; new keys go to the first
	StrictHostKeyChecking string        // StrictYes, StrictNo or StrictAcceptNew
	ConnectTimeout        time.Duration // 0 means the client's default
	ServerAliveInterval   time.Duration // 0 means no keepalive requests
	ServerAliveCountMax   int           // unanswered keepalives before the connection is dropped

	defaultIdentities bool // IdentityFiles are the defaults, not configured
}

// Addr returns the host:port address dialled for h, with brackets around an
// IPv6 address.
func (h *HostConfig) Addr() string {
	return net.JoinHostPort(h.HostName, strconv.Itoa(h.Port))
}

// String returns h as "user@host:port", the form used in error messages.
func (h *HostConfig) String() string {
	return h.User + "@" + h.Addr()
}

// configFile loads the client's ssh configuration once and returns it with
// the name of the file it came from. A missing ~/.ssh/config is an empty
// configuration; a missing file named explicitly is an error.
func (c *Client) configFile() (*ssh_config.Config, string, error) {
	c.cfgMu.Lock()
	defer c.cfgMu.Unlock()
	if c.cfgLoaded {
		return c.cfg, c.cfgPath, c.cfgErr
	}
	c.cfgLoaded = true
	path, explicit := c.cfgPath, true
	if path == "" {
		explicit = false
		home, err := os.UserHomeDir()
		if err != nil {
			c.cfg = &ssh_config.Config{}
			return c.cfg, "", nil
		}
		path = filepath.Join(home, ".ssh", "config")
		c.cfgPath = path
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && os.IsNotExist(err) {
			c.cfg, _ = ssh_config.DecodeBytes(nil)
			return c.cfg, path, nil
		}
		c.cfgErr = fmt.Errorf("ssh: config file %q: %v", path, err)
		return nil, path, c.cfgErr
	}
	cfg, err := ssh_config.DecodeBytes(data)
	if err != nil {
		c.cfgErr = fmt.Errorf("ssh: config file %q: %v", path, err)
		return nil, path, c.cfgErr
	}
	c.cfg = cfg
	return cfg, path, nil
}

// Resolve resolves a destination ([user@]host[:port] or a config alias)
// through the client's ssh configuration without connecting. The user and
// port given in dest override the configuration, as with ssh(1). Resolve is
// safe for concurrent use.
func (c *Client) Resolve(dest string) (*HostConfig, error) {
	d, err := ParseDest(dest)
	if err != nil {
		return nil, err
	}
	cfg, path, err := c.configFile()
	if err != nil {
		return nil, err
	}
	return resolveDest(cfg, path, d)
}

// resolveDest applies the configuration cfg (read from path) to d.
func resolveDest(cfg *ssh_config.Config, path string, d Dest) (*HostConfig, error) {
	alias := d.Host
	get := func(key string) string {
		v, _ := cfg.Get(alias, key)
		return strings.TrimSpace(v)
	}
	bad := func(key, val, why string) error {
		return fmt.Errorf("ssh: config file %q: host %q: %s %q: %s", path, alias, key, val, why)
	}
	localUser := currentUser()
	home, _ := os.UserHomeDir()

	h := &HostConfig{Alias: alias, User: d.User, Port: d.Port}

	hostname := get("HostName")
	if hostname == "" {
		h.HostName = alias
	} else {
		x, err := expandTokens(hostname, map[byte]string{'h': alias, 'n': alias})
		if err != nil {
			return nil, bad("HostName", hostname, err.Error())
		}
		h.HostName = x
	}
	if h.User == "" {
		h.User = get("User")
		if h.User == "" {
			h.User = localUser
		}
	}
	if h.Port == 0 {
		if p := get("Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, bad("Port", p, "want a number from 1 to 65535")
			}
			h.Port = n
		} else {
			h.Port = 22
		}
	}

	tokens := map[byte]string{
		'h': h.HostName,
		'n': alias,
		'p': strconv.Itoa(h.Port),
		'r': h.User,
		'u': localUser,
		'd': home,
		'i': strconv.Itoa(os.Getuid()),
	}
	expandPath := func(key, p string) (string, error) {
		x, err := expandTokens(p, tokens)
		if err != nil {
			return "", bad(key, p, err.Error())
		}
		return expandTilde(x, home), nil
	}

	ids, _ := cfg.GetAll(alias, "IdentityFile")
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || strings.EqualFold(id, "none") {
			continue
		}
		p, err := expandPath("IdentityFile", id)
		if err != nil {
			return nil, err
		}
		h.IdentityFiles = appendUnique(h.IdentityFiles, p)
	}
	if len(ids) == 0 && home != "" {
		h.defaultIdentities = true
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			h.IdentityFiles = append(h.IdentityFiles, filepath.Join(home, ".ssh", name))
		}
	}
	if v := get("IdentitiesOnly"); v != "" {
		b, err := parseYesNo(v)
		if err != nil {
			return nil, bad("IdentitiesOnly", v, err.Error())
		}
		h.IdentitiesOnly = b
	}

	if v := get("ProxyJump"); v != "" && !strings.EqualFold(v, "none") {
		for hop := range strings.SplitSeq(v, ",") {
			hop = strings.TrimSpace(hop)
			if _, err := ParseDest(hop); err != nil {
				return nil, bad("ProxyJump", v, err.Error())
			}
			h.ProxyJump = append(h.ProxyJump, hop)
		}
	}

	if v := get("UserKnownHostsFile"); v != "" {
		for f := range strings.FieldsSeq(v) {
			if strings.EqualFold(f, "none") {
				f = os.DevNull
			}
			p, err := expandPath("UserKnownHostsFile", f)
			if err != nil {
				return nil, err
			}
			h.KnownHostsFiles = append(h.KnownHostsFiles, p)
		}
	} else if home != "" {
		h.KnownHostsFiles = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}

	switch v := strings.ToLower(get("StrictHostKeyChecking")); v {
	case "", "yes", "true", "ask":
		h.StrictHostKeyChecking = StrictYes
	case "no", "off", "false":
		h.StrictHostKeyChecking = StrictNo
	case "accept-new":
		h.StrictHostKeyChecking = StrictAcceptNew
	default:
		return nil, bad("StrictHostKeyChecking", v, "want yes, no or accept-new")
	}

	seconds := func(key string) (time.Duration, error) {
		v := get(key)
		if v == "" || strings.EqualFold(v, "none") {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, bad(key, v, "want a number of seconds")
		}
		return time.Duration(n) * time.Second, nil
	}
	var err error
	if h.ConnectTimeout, err = seconds("ConnectTimeout"); err != nil {
		return nil, err
	}
	if h.ServerAliveInterval, err = seconds("ServerAliveInterval"); err != nil {
		return nil, err
	}
	h.ServerAliveCountMax = 3
	if v := get("ServerAliveCountMax"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, bad("ServerAliveCountMax", v, "want a positive number")
		}
		h.ServerAliveCountMax = n
	}
	return h, nil
}

// expandTokens replaces the ssh_config %-tokens in s with their values;
// "%%" is a literal percent sign.
func expandTokens(s string, values map[byte]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("'%%' at the end")
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
			continue
		}
		v, ok := values[s[i]]
		if !ok {
			return "", fmt.Errorf("unsupported token %%%c", s[i])
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// expandTilde replaces a leading "~" or "~/" in p by the home directory.
func expandTilde(p, home string) string {
	if home == "" {
		return p
	}
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}

func parseYesNo(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true", "on":
		return true, nil
	case "no", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("want yes or no")
}

// currentUser returns the local login name.
func currentUser() string {
	if u, err := osuser.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
