// Package remote is pathos-star's ssh side: it connects to hosts with
// golang.org/x/crypto/ssh in process (no ssh binary is run), runs commands
// on them, copies files, forwards ports and places the pathos-star binary
// where remote workers can run it.
//
// A [Client] holds everything a connection needs: the ssh client
// configuration it reads (~/.ssh/config, or the file named by the
// environment variable PATHOS_STAR_SSH_CONFIG, or [WithConfigFile]), the dial
// function and the connect timeout. [Client.Connect] turns a destination
// such as "user@host:2222", "[::1]:22" or a config alias into a [*Host]. The
// client keeps one ssh connection per resolved destination and hands it to
// every later Connect of that destination; a connection that has died is
// dialled again.
//
// The ssh configuration keys honoured are Host (patterns, aliases, Match host
// and Match all), HostName, User, Port, IdentityFile, IdentitiesOnly,
// ProxyJump, UserKnownHostsFile, StrictHostKeyChecking, ConnectTimeout,
// ServerAliveInterval, ServerAliveCountMax and Include. Other keys are
// ignored. The system file /etc/ssh/ssh_config is not read.
//
// Authentication tries the keys of the ssh agent (SSH_AUTH_SOCK) first, then
// the key files named by IdentityFile, or by default ~/.ssh/id_ed25519,
// ~/.ssh/id_ecdsa and ~/.ssh/id_rsa. Nothing ever prompts: a key file that
// needs a passphrase is usable only through the agent, and the login error
// says so.
//
// Host keys are checked against known_hosts (UserKnownHostsFile, by default
// ~/.ssh/known_hosts). An unknown host is refused unless
// StrictHostKeyChecking is "accept-new" or "no", in which case its key is
// appended to the first known_hosts file. A changed host key is always
// refused, whatever StrictHostKeyChecking says; the error is a
// [*HostKeyError].
//
// # Remote commands
//
// Every command is run by /bin/sh -c on the remote host, under a small
// wrapper that reports the process ID before it execs the command. The
// process ID is what makes cancellation work: OpenSSH does not deliver
// signals to the sessions of root logins, and closing an ssh session without
// a terminal leaves its process running, so [Host.Run], [Process.Kill],
// [Stream.Kill] and [Host.Close] kill the remote process group from a second
// session. The remote login shell must therefore accept the POSIX "exec"
// builtin, as sh, bash, zsh, ksh, csh and fish all do.
//
// The standard input of [Host.Run] and [Host.Start] is empty unless given, so
// a command that reads its input never waits for a terminal. [Host.Exec]
// gives the raw standard input and output of a remote process, the channel a
// remote worker speaks its protocol over.
//
// # Concurrency
//
// A [Client], a [Host], a [Process], a [Stream] and a [Tunnel] are safe for
// concurrent use by several goroutines. An OpenSSH server limits the number
// of sessions open at once on one connection (MaxSessions, by default 10);
// Run, Start, Exec, Copy and the kill fallback each hold one session while
// they run.
package remote
