package pathosstar

import "runtime/debug"

// Version returns the version of the pathos-star module in this binary,
// from its build information: a release tag, a pseudo-version, or
// "(devel)" for a build from a work tree, with the VCS revision if known.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	if info.Main.Path != "github.com/pathos-star/pathos-star" {
		for _, d := range info.Deps {
			if d.Path == "github.com/pathos-star/pathos-star" {
				v = d.Version
			}
		}
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v
}
