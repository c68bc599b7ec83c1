package remote

import "strings"

// shellQuote returns s quoted for a POSIX shell, so that the shell reads it
// back as exactly one word equal to s. Words made only of characters that
// are never special are returned as they are.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_@%+:,./-", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// remotePath returns a remote path as a shell word. A leading "~" or "~/"
// becomes the remote $HOME, as the remote shell would expand it; everything
// else is quoted.
func remotePath(p string) string {
	if p == "~" {
		return `"$HOME"`
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if rest == "" {
			return `"$HOME"/`
		}
		return `"$HOME"/` + shellQuote(rest)
	}
	return shellQuote(p)
}
