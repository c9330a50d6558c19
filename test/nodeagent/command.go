package nodeagent

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// containerArgv is the command line a container runs: command and args
// with $(VAR) expanded from its environment. Without a command, the
// image's entrypoint comes first, as far as the image map knows one
// (ImageMap.Entrypoint); without that, args are the command line.
func containerArgv(c *corev1.Container, images ImageMap, environ []string) ([]string, error) {
	cmd := c.Command
	if len(cmd) == 0 {
		if ep, ok := images.Entrypoint(c.Image); ok {
			cmd = []string{ep}
		}
	}
	argv := expandArgs(append(append([]string{}, cmd...), c.Args...), environ)
	if len(argv) == 0 {
		return nil, fmt.Errorf("container %s has neither command nor args, and image %q has no entrypoint the node agent knows "+
			"(images are not pulled: give a command, or map the image with --image to a directory holding exactly one executable)",
			c.Name, c.Image)
	}
	return argv, nil
}
