package pools

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the worker when the driver
// dies, even by SIGKILL. (The worker also exits on EOF on its stdin.)
func setParentDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
