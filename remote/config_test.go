package remote

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestResolve(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := t.TempDir()
	included := filepath.Join(dir, "included.conf")
	writeTestFile(t, included, `
Host inc
  HostName included.example
  Port 2201
`)
	cfgFile := filepath.Join(dir, "config")
	writeTestFile(t, cfgFile, `
Include `+included+`

Host web web.alias
  HostName 10.1.2.3
  User deploy
  Port 2222
  IdentityFile ~/.ssh/web_key
  IdentityFile `+dir+`/second_key
  IdentitiesOnly yes
  UserKnownHostsFile ~/kh1 `+dir+`/kh2
  StrictHostKeyChecking accept-new
  ConnectTimeout 7
  ServerAliveInterval 15
  ServerAliveCountMax 2

Host behind
  HostName %h.internal
  ProxyJump jump1, admin@jump2:2022

Host *.corp
  User corpuser
  StrictHostKeyChecking no

Host nojump
  ProxyJump none

Host tokens
  IdentityFile ~/.ssh/%r@%h-%p
  User tok
`)
	c := NewClient(WithConfigFile(cfgFile), WithAgent(""))
	local := currentUser()
	defaults := []string{home + "/.ssh/id_ed25519", home + "/.ssh/id_ecdsa", home + "/.ssh/id_rsa"}

	tests := []struct {
		dest string
		want HostConfig
	}{
		{"web", HostConfig{
			Alias: "web", HostName: "10.1.2.3", Port: 2222, User: "deploy",
			IdentityFiles:  []string{home + "/.ssh/web_key", dir + "/second_key"},
			IdentitiesOnly: true, KnownHostsFiles: []string{home + "/kh1", dir + "/kh2"},
			StrictHostKeyChecking: StrictAcceptNew, ConnectTimeout: 7 * time.Second,
			ServerAliveInterval: 15 * time.Second, ServerAliveCountMax: 2,
		}},
		// A second pattern on the same Host line; the user and port given
		// in the destination win over the config.
		{"root@web.alias:2000", HostConfig{
			Alias: "web.alias", HostName: "10.1.2.3", Port: 2000, User: "root",
			IdentityFiles:  []string{home + "/.ssh/web_key", dir + "/second_key"},
			IdentitiesOnly: true, KnownHostsFiles: []string{home + "/kh1", dir + "/kh2"},
			StrictHostKeyChecking: StrictAcceptNew, ConnectTimeout: 7 * time.Second,
			ServerAliveInterval: 15 * time.Second, ServerAliveCountMax: 2,
		}},
		{"inc", HostConfig{
			Alias: "inc", HostName: "included.example", Port: 2201, User: local,
			IdentityFiles: defaults, KnownHostsFiles: []string{home + "/.ssh/known_hosts"},
			StrictHostKeyChecking: StrictYes, ServerAliveCountMax: 3,
		}},
		{"behind", HostConfig{
			Alias: "behind", HostName: "behind.internal", Port: 22, User: local,
			IdentityFiles: defaults, ProxyJump: []string{"jump1", "admin@jump2:2022"},
			KnownHostsFiles:       []string{home + "/.ssh/known_hosts"},
			StrictHostKeyChecking: StrictYes, ServerAliveCountMax: 3,
		}},
		{"db.corp", HostConfig{
			Alias: "db.corp", HostName: "db.corp", Port: 22, User: "corpuser",
			IdentityFiles: defaults, KnownHostsFiles: []string{home + "/.ssh/known_hosts"},
			StrictHostKeyChecking: StrictNo, ServerAliveCountMax: 3,
		}},
		{"nojump", HostConfig{
			Alias: "nojump", HostName: "nojump", Port: 22, User: local,
			IdentityFiles: defaults, KnownHostsFiles: []string{home + "/.ssh/known_hosts"},
			StrictHostKeyChecking: StrictYes, ServerAliveCountMax: 3,
		}},
		{"tokens:99", HostConfig{
			Alias: "tokens", HostName: "tokens", Port: 99, User: "tok",
			IdentityFiles:         []string{home + "/.ssh/tok@tokens-99"},
			KnownHostsFiles:       []string{home + "/.ssh/known_hosts"},
			StrictHostKeyChecking: StrictYes, ServerAliveCountMax: 3,
		}},
		{"[::1]:2022", HostConfig{
			Alias: "::1", HostName: "::1", Port: 2022, User: local,
			IdentityFiles: defaults, KnownHostsFiles: []string{home + "/.ssh/known_hosts"},
			StrictHostKeyChecking: StrictYes, ServerAliveCountMax: 3,
		}},
	}
	for _, tt := range tests {
		got, err := c.Resolve(tt.dest)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tt.dest, err)
			continue
		}
		tt.want.defaultIdentities = got.defaultIdentities
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("Resolve(%q) =\n %+v\nwant\n %+v", tt.dest, *got, tt.want)
		}
	}
	if got, _ := c.Resolve("[::1]:2022"); got.Addr() != "[::1]:2022" {
		t.Errorf("Addr of [::1]:2022 = %q", got.Addr())
	}
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	writeTestFile(t, cfgFile, `
Host badport
  Port 99999
Host badstrict
  StrictHostKeyChecking maybe
Host badjump
  ProxyJump ok,bad:port
Host badtimeout
  ConnectTimeout soon
Host badtoken
  HostName %z
`)
	c := NewClient(WithConfigFile(cfgFile))
	tests := []struct{ dest, want string }{
		{"badport", `Port "99999"`},
		{"badstrict", `StrictHostKeyChecking "maybe"`},
		{"badjump", `ProxyJump "ok,bad:port"`},
		{"badtimeout", `ConnectTimeout "soon"`},
		{"badtoken", "unsupported token %z"},
		{"a b", "space"},
	}
	for _, tt := range tests {
		_, err := c.Resolve(tt.dest)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Resolve(%q): error %v, want one containing %q", tt.dest, err, tt.want)
		}
		if err != nil && tt.dest != "a b" && !strings.Contains(err.Error(), cfgFile) {
			t.Errorf("Resolve(%q): error %v does not name the config file", tt.dest, err)
		}
	}

	missing := filepath.Join(dir, "missing")
	_, err := NewClient(WithConfigFile(missing)).Resolve("h")
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing explicit config file: got %v, want an error naming it", err)
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "config")
	writeTestFile(t, cfgFile, "Host envhost\n  HostName from.env\n")
	t.Setenv(EnvConfig, cfgFile)
	hc, err := NewClient().Resolve("envhost")
	if err != nil {
		t.Fatal(err)
	}
	if hc.HostName != "from.env" {
		t.Errorf("with %s set, HostName = %q, want from.env", EnvConfig, hc.HostName)
	}
}

func TestConfigDefaultFileMissing(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv(EnvConfig, "")
	hc, err := NewClient().Resolve("u@plain:2")
	if err != nil {
		t.Fatalf("no ~/.ssh/config: %v", err)
	}
	if hc.String() != "u@plain:2" {
		t.Errorf("got %s, want u@plain:2", hc)
	}
}
