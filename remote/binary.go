package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// BinaryName is the program EnsureBinary looks for on the remote PATH and
// installs.
const BinaryName = "pathos-star"

// BinaryOptions adjusts [Host.EnsureBinaryOptions]. The zero value gives the
// behaviour of [Host.EnsureBinary].
type BinaryOptions struct {
	// SkipPath skips looking for pathos-star on the remote PATH, so that
	// the local binary is always used (copied if need be).
	SkipPath bool

	// GOOS and GOARCH name the platform the local binary is built for;
	// empty means this program's own (runtime.GOOS, runtime.GOARCH).
	GOOS, GOARCH string

	// CacheDir is the remote directory binaries are cached under, by
	// default "~/.cache/pathos-star". A leading "~/" or a relative path is
	// relative to the remote home directory.
	CacheDir string
}

// EnsureBinary makes sure the host can run pathos-star and returns the
// remote path of the program: the pathos-star on the remote PATH if there is
// one, otherwise the local binary localExe, copied to
// ~/.cache/pathos-star/<hash>/pathos-star on the host unless it is there
// already with the right size. Before copying it checks that the host's
// operating system and architecture (uname -s, uname -m) are the ones the
// local binary is built for.
func (h *Host) EnsureBinary(ctx context.Context, localExe string) (string, error) {
	return h.EnsureBinaryOptions(ctx, localExe, BinaryOptions{})
}

// EnsureBinaryOptions is EnsureBinary with options.
func (h *Host) EnsureBinaryOptions(ctx context.Context, localExe string, opts BinaryOptions) (exe string, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("ssh: install %s on %q: %w", BinaryName, h.name, err)
		}
	}()
	goos, goarch := opts.GOOS, opts.GOARCH
	if goos == "" {
		goos = runtime.GOOS
	}
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	sum, size, err := fileDigest(localExe)
	if err != nil {
		return "", err
	}
	cache := `"$HOME"/.cache/` + BinaryName
	if opts.CacheDir != "" {
		cache = remotePath(strings.TrimSuffix(opts.CacheDir, "/"))
	}
	dir := cache + "/" + sum
	look := "1"
	if opts.SkipPath {
		look = "0"
	}
	probe := `p=
if [ ` + look + ` = 1 ]; then p=$(command -v ` + BinaryName + ` 2>/dev/null) || p=; fi
f=` + dir + `/` + BinaryName + `
sz=-1
if [ -f "$f" ] && [ -x "$f" ]; then sz=$(wc -c < "$f"); fi
printf '%s\n%s\n%s\n%s\n%s\n' "$p" "$(uname -s)" "$(uname -m)" "$f" $sz`
	res, err := h.Run(ctx, probe, nil)
	if err != nil {
		return "", err
	}
	if res.Code != 0 {
		return "", fmt.Errorf("probing the host: exit status %d: %s", res.Code, strings.TrimSpace(string(res.Stderr)))
	}
	lines := strings.Split(strings.TrimSuffix(string(res.Stdout), "\n"), "\n")
	if len(lines) != 5 {
		return "", fmt.Errorf("probing the host: unexpected output %q", res.Stdout)
	}
	onPath, unameS, unameM, cached := lines[0], lines[1], lines[2], lines[3]
	if strings.HasPrefix(onPath, "/") {
		return onPath, nil
	}
	if err := checkPlatform(goos, goarch, unameS, unameM); err != nil {
		return "", err
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(lines[4]), 10, 64); err == nil && n == size {
		return cached, nil
	}

	f, err := os.Open(localExe)
	if err != nil {
		return "", unwrapPathError(err)
	}
	defer f.Close()
	install := `d=` + dir + `
f="$d"/` + BinaryName + `
mkdir -p -- "$d" || exit 1
t="$d"/.tmp.$$
trap 'rm -f -- "$t"' EXIT
cat > "$t" && chmod 755 "$t" && mv -f -- "$t" "$f" && printf '%s\n' "$f"`
	s, err := h.Exec(ctx, install)
	if err != nil {
		return "", err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Kill(); s.Close() })
	defer stop()
	_, werr := io.Copy(s, f)
	s.CloseWrite()
	out, _ := io.ReadAll(s)
	res, err = s.Wait(ctx)
	switch {
	case ctx.Err() != nil:
		return "", ctx.Err()
	case err != nil:
		return "", err
	case res.Code != 0:
		return "", fmt.Errorf("copying %s: exit status %d: %s", localExe, res.Code, strings.TrimSpace(string(res.Stderr)))
	case werr != nil:
		return "", fmt.Errorf("copying %s: %v", localExe, werr)
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

// fileDigest returns the first 16 hex digits of the SHA-256 of a file, and
// its size.
func fileDigest(name string) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, unwrapPathError(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("reading %s: %v", name, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], n, nil
}

// checkPlatform reports an error unless a binary for goos/goarch can run on
// a host whose uname -s and uname -m print unameS and unameM.
func checkPlatform(goos, goarch, unameS, unameM string) error {
	hostOS, hostArch := platformOf(unameS, unameM)
	if hostOS == goos && hostArch == goarch {
		return nil
	}
	return fmt.Errorf("the local binary is for %s/%s but the host is %s %s (%s/%s); build one with GOOS=%s GOARCH=%s",
		goos, goarch, unameS, unameM, hostOS, hostArch, hostOS, hostArch)
}

// platformOf maps uname -s and uname -m to Go's GOOS and GOARCH names.
func platformOf(unameS, unameM string) (goos, goarch string) {
	goos = strings.ToLower(strings.TrimSpace(unameS))
	if goos == "sunos" {
		goos = "solaris"
	}
	m := strings.ToLower(strings.TrimSpace(unameM))
	switch m {
	case "x86_64", "amd64":
		goarch = "amd64"
	case "aarch64", "arm64", "aarch64_be":
		goarch = "arm64"
	case "i386", "i486", "i586", "i686", "x86", "i86pc":
		goarch = "386"
	case "armv5l", "armv6l", "armv7l", "armv7", "armv8l", "arm":
		goarch = "arm"
	case "loongarch64":
		goarch = "loong64"
	case "mips64el", "mips64le":
		goarch = "mips64le"
	case "mipsel", "mipsle":
		goarch = "mipsle"
	default:
		goarch = m // ppc64le, ppc64, s390x, riscv64, mips, mips64
	}
	return goos, goarch
}
