package remote

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SplitRemote splits an scp-style file argument. "host:path",
// "user@host:path" and "user@[::1]:path" name a remote file: the part before
// the first colon (outside brackets) is a destination, and there must be
// no slash before that colon. Anything else, such as "./a:b" or "/x:y",
// is a local path, and SplitRemote returns ok false.
func SplitRemote(s string) (dest, file string, ok bool) {
	inBracket := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			inBracket = true
		case ']':
			inBracket = false
		case '/':
			if !inBracket {
				return "", "", false
			}
		case ':':
			if !inBracket {
				if i == 0 {
					return "", "", false
				}
				return s[:i], s[i+1:], true
			}
		}
	}
	return "", "", false
}

// Copy copies a file or a directory tree between this machine and a host,
// scp style: exactly one of src and dst is remote, written "host:path" (see
// SplitRemote); the host part is a destination or an ssh config alias, and
// a relative remote path is relative to the remote home directory ("host:"
// is the home directory itself). As with scp -r, if dst is an existing
// directory the copy goes inside it under the base name of src; otherwise
// it is created as dst. Regular files are copied byte for byte; file modes
// and modification times are kept, and so are symbolic links inside a copied
// directory. Copy needs sh and tar on the remote host and does not copy
// between two local paths or two remote ones.
func (c *Client) Copy(ctx context.Context, src, dst string) error {
	sHost, sPath, sRemote := SplitRemote(src)
	dHost, dPath, dRemote := SplitRemote(dst)
	switch {
	case sRemote && dRemote:
		return fmt.Errorf("ssh: copy %q to %q: both sides are remote; copy through a local file", src, dst)
	case !sRemote && !dRemote:
		return fmt.Errorf("ssh: copy %q to %q: neither side is remote (write host:path for the remote side)", src, dst)
	case sRemote:
		h, err := c.Connect(ctx, sHost)
		if err != nil {
			return err
		}
		return h.Download(ctx, sPath, dst)
	default:
		h, err := c.Connect(ctx, dHost)
		if err != nil {
			return err
		}
		return h.Upload(ctx, src, dPath)
	}
}

// Upload copies the local file or directory tree localPath to remotePath
// on the host, with the rules of [Client.Copy]. When ctx is done the remote
// side is killed and the copy may be partial.
func (h *Host) Upload(ctx context.Context, localPath, remotePath string) (err error) {
	what := fmt.Sprintf("ssh: copy %q to %q on %q", localPath, remotePath, h.name)
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %w", what, err)
		}
	}()
	st, err := os.Stat(localPath)
	if err != nil {
		return unwrapPathError(err)
	}
	if !st.IsDir() && !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file or directory (%v)", st.Mode().Type())
	}
	if remotePath == "" {
		remotePath = "."
	}
	script := "dst=" + remotePath2(remotePath) + `
if [ -d "$dst" ]; then cd -- "$dst" || exit 1; echo dir
else cd -- ` + remotePath2(path.Dir(remotePath)) + ` || exit 1; echo new
fi
umask 0
exec tar -xf -`
	s, err := h.Exec(ctx, script)
	if err != nil {
		return err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Kill(); s.Close() })
	defer stop()

	br := bufio.NewReader(s)
	line, rerr := br.ReadString('\n')
	var name string
	switch strings.TrimSpace(line) {
	case "dir":
		abs, err := filepath.Abs(localPath)
		if err != nil {
			return err
		}
		name = filepath.Base(abs)
		if name == string(filepath.Separator) {
			return fmt.Errorf("cannot copy the root directory into a directory")
		}
	case "new":
		name = path.Base(remotePath)
	default:
		return h.copyFailed(ctx, s, rerr)
	}
	werr := writeTar(s, localPath, name, st)
	s.CloseWrite()
	io.Copy(io.Discard, br)
	res, err := s.Wait(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	if res.Code != 0 {
		return fmt.Errorf("remote tar exited with status %d: %s", res.Code, strings.TrimSpace(string(res.Stderr)))
	}
	if werr != nil {
		return werr
	}
	return nil
}

// copyFailed explains why the remote side of a copy ended early.
func (h *Host) copyFailed(ctx context.Context, s *Stream, rerr error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res, err := s.Wait(ctx)
	if err != nil {
		return err
	}
	msg := strings.TrimSpace(string(res.Stderr))
	if msg == "" && rerr != nil {
		msg = rerr.Error()
	}
	return fmt.Errorf("remote exited with status %d: %s", res.Code, msg)
}

// remotePath2 is remotePath, with "" meaning the current directory.
func remotePath2(p string) string {
	if p == "" {
		p = "."
	}
	return remotePath(p)
}

// writeTar writes root (a regular file or a directory tree) to w as a tar
// archive whose top entry is called name. Owners are left out, so the
// extracting side owns the files.
func writeTar(w io.Writer, root, name string, st fs.FileInfo) error {
	tw := tar.NewWriter(w)
	add := func(p, entry string, fi fs.FileInfo) error {
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			var err error
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		} else if !fi.IsDir() && !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: cannot copy a %v", p, fi.Mode().Type())
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = entry
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
				return fmt.Errorf("%s: %v", p, err)
			}
		}
		return nil
	}
	if !st.IsDir() {
		if err := add(root, name, st); err != nil {
			return err
		}
		return tw.Close()
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if p == root {
			fi = st // root may be a symbolic link to a directory
		}
		return add(p, path.Join(name, filepath.ToSlash(rel)), fi)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// Download copies the remote file or directory tree remotePath on the host
// to localPath, with the rules of [Client.Copy]. When ctx is done the
// remote side is killed and the copy may be partial.
func (h *Host) Download(ctx context.Context, remotePath, localPath string) (err error) {
	what := fmt.Sprintf("ssh: copy %q on %q to %q", remotePath, h.name, localPath)
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %w", what, err)
		}
	}()
	if remotePath == "" {
		remotePath = "."
	}
	base := path.Base(remotePath)
	script := "src=" + remotePath2(remotePath) + `
if [ -d "$src" ]; then cd -- "$src" || exit 1; exec tar -cf - .; fi
if [ ! -e "$src" ]; then echo "$src: no such file or directory" >&2; exit 1; fi
cd -- ` + remotePath2(path.Dir(remotePath)) + ` || exit 1
exec tar -chf - ` + shellQuote("./"+base)

	// Where the copy goes: inside localPath if that is a directory.
	target := localPath
	if st, err := os.Stat(localPath); err == nil && st.IsDir() {
		switch base {
		case ".", "..", "/", "~":
			// The remote name is unknown: merge into localPath.
		default:
			target = filepath.Join(localPath, base)
		}
	}

	s, err := h.Exec(ctx, script)
	if err != nil {
		return err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Kill(); s.Close() })
	defer stop()

	xerr := extractTar(s, target)
	io.Copy(io.Discard, s)
	res, err := s.Wait(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	if res.Code != 0 {
		return fmt.Errorf("remote exited with status %d: %s", res.Code, strings.TrimSpace(string(res.Stderr)))
	}
	return xerr
}

// extractTar reads the archive made by Download's remote script and
// creates target from it: a directory archive ("./" first) becomes the
// directory target, a one-file archive becomes the file target. Entries
// that would land outside target, or pass through a symbolic link, are
// refused.
func extractTar(r io.Reader, target string) error {
	tr := tar.NewReader(r)
	type dirMode struct {
		path  string
		mode  fs.FileMode
		mtime time.Time
	}
	var dirs []dirMode
	first := true
	dirArchive := false
	count := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %v", err)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		count++
		if first {
			first = false
			dirArchive = hdr.Typeflag == tar.TypeDir && (name == "" || name == "." || name == "./")
		}
		var dest string
		if dirArchive {
			rel := path.Clean("/" + name)[1:]
			if rel != name && rel+"/" != name && name != "" {
				return fmt.Errorf("refusing archive entry %q", hdr.Name)
			}
			if rel == "" {
				dest = target
			} else {
				dest = filepath.Join(target, filepath.FromSlash(rel))
				if err := checkParents(target, rel); err != nil {
					return err
				}
			}
		} else {
			if count > 1 || strings.Contains(name, "/") {
				return fmt.Errorf("refusing archive entry %q", hdr.Name)
			}
			dest = target
		}
		mode := fs.FileMode(hdr.Mode) & fs.ModePerm
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dest, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirMode{dest, mode, hdr.ModTime})
		case tar.TypeReg:
			if err := writeFile(dest, tr, mode, hdr.ModTime); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if !dirArchive {
				return fmt.Errorf("refusing symbolic link %q", hdr.Name)
			}
			os.Remove(dest)
			if err := os.Symlink(hdr.Linkname, dest); err != nil {
				return err
			}
		case tar.TypeLink:
			old := path.Clean("/" + strings.TrimPrefix(hdr.Linkname, "./"))[1:]
			if !dirArchive || old == "" || checkParents(target, old) != nil {
				return fmt.Errorf("refusing hard link %q to %q", hdr.Name, hdr.Linkname)
			}
			os.Remove(dest)
			if err := os.Link(filepath.Join(target, filepath.FromSlash(old)), dest); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: cannot copy a file of tar type %q", hdr.Name, hdr.Typeflag)
		}
	}
	if first {
		return errors.New("nothing received")
	}
	// Set directory modes last, deepest first, so that read-only
	// directories could be filled.
	slices.Reverse(dirs)
	for _, d := range dirs {
		if err := os.Chmod(d.path, d.mode); err != nil {
			return err
		}
		os.Chtimes(d.path, d.mtime, d.mtime)
	}
	return nil
}

// checkParents refuses a relative archive path rel whose parent
// directories inside target are not plain directories (a symbolic link
// there would lead outside target).
func checkParents(target, rel string) error {
	p := target
	parts := strings.Split(rel, "/")
	for _, part := range parts[:len(parts)-1] {
		if part == ".." {
			return fmt.Errorf("refusing archive entry %q", rel)
		}
		p = filepath.Join(p, part)
		st, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("archive entry %q: %v", rel, unwrapPathError(err))
		}
		if !st.IsDir() {
			return fmt.Errorf("refusing archive entry %q: %s is not a directory", rel, p)
		}
	}
	if parts[len(parts)-1] == ".." {
		return fmt.Errorf("refusing archive entry %q", rel)
	}
	return nil
}

// writeFile writes r to name with the given mode and modification time,
// replacing a file that is there.
func writeFile(name string, r io.Reader, mode fs.FileMode, mtime time.Time) error {
	if st, err := os.Lstat(name); err == nil && !st.IsDir() {
		os.Remove(name)
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(name, mode); err != nil {
		return err
	}
	return os.Chtimes(name, mtime, mtime)
}
