//go:build !linux

package pools

import (
	"os"
	"os/exec"
)

// setParentDeathSignal does nothing here: the worker exits on EOF on its
// stdin when the driver goes away.
func setParentDeathSignal(cmd *exec.Cmd) {}

// widenPipe does nothing here.
func widenPipe(f *os.File) {}
