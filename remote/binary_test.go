package remote

import (
	"strings"
	"testing"
)

func TestCheckPlatform(t *testing.T) {
	tests := []struct {
		goos, goarch, unameS, unameM string
		ok                           bool
	}{
		{"linux", "amd64", "Linux", "x86_64", true},
		{"linux", "arm64", "Linux", "aarch64", true},
		{"darwin", "arm64", "Darwin", "arm64", true},
		{"linux", "386", "Linux", "i686", true},
		{"linux", "arm", "Linux", "armv7l", true},
		{"freebsd", "amd64", "FreeBSD", "amd64", true},
		{"linux", "riscv64", "Linux", "riscv64", true},
		{"linux", "ppc64le", "Linux", "ppc64le", true},
		{"linux", "amd64", "Linux", "aarch64", false},
		{"linux", "amd64", "Darwin", "x86_64", false},
		{"darwin", "arm64", "Linux", "arm64", false},
	}
	for _, tt := range tests {
		err := checkPlatform(tt.goos, tt.goarch, tt.unameS, tt.unameM)
		if tt.ok {
			if err != nil {
				t.Errorf("checkPlatform(%s/%s on %s %s): %v", tt.goos, tt.goarch, tt.unameS, tt.unameM, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("checkPlatform(%s/%s on %s %s): no error", tt.goos, tt.goarch, tt.unameS, tt.unameM)
			continue
		}
		for _, want := range []string{tt.goos + "/" + tt.goarch, tt.unameS + " " + tt.unameM} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("checkPlatform error %q does not name %q", err, want)
			}
		}
	}
}
