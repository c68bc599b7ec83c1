package pools

import (
	"os"
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

// widenPipe asks for a 1 MB pipe buffer (the default is 64 KB); where the
// kernel refuses, the pipe keeps its size.
func widenPipe(f *os.File) {
	const fSetPipeSz = 1031 // F_SETPIPE_SZ
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { // unlike f.Fd, keeps the pipe non-blocking
			syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, 1<<20)
		})
	}
}
