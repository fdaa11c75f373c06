//go:build !unix

package main

import "os/exec"

func setProcessGroup(cmd *exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}

// lockWorkdir does nothing here: do not start two runs on one -workdir.
func lockWorkdir(dir string) error { return nil }
