// Package nodeagent is a test-only stand-in for a kubelet: it registers a
// Ready Node, binds pending pods to it and runs each pod's containers as
// local processes, so the real Argo executor (argoexec) and the kfpargo
// launcher run unmodified against a real kube-apiserver on one machine.
//
// A container is a re-execution of the agent binary (the hidden
// container-init sub-command) in its own mount, PID and UTS namespaces. It
// sees the host's file system, with the pod's volumes, a private empty
// directory at each scratch path (/tmp, /minio, ...), the termination-log
// file and the service-account token bind-mounted at their container
// paths. Images are not pulled: an image repository can be mapped to a host
// directory that is put first on the container's PATH (argoexec,
// launcher); any other image runs the host's binaries. The command's
// environment is built from scratch (never the agent's own), and when the
// command exits the kernel kills whatever else runs in its PID namespace.
//
// Mount points a container needs that do not exist on the host
// (/var/run/argo, /dev/termination-log, /minio, ...) are created there,
// recorded in the state directory and removed when the agent stops (or
// starts again after a crash), unless some mount namespace still uses
// them. Container output is kept below <state-dir>/logs; a pod's other
// files are removed shortly after it ends.
//
// With a Network (the local stack always gives one), each pod that does
// not ask for the host network gets a network namespace of its own on a
// host bridge, with an address from the pod CIDR, so pods bind the ports
// their images expect and can be Service endpoints; the agent then also
// stands in for kube-proxy and cluster DNS: it listens on every Service's
// ClusterIP (the host routes the service range locally) and forwards to
// ready endpoints, and each container's /etc/hosts names every Service.
// Pods reach the apiserver through the kubernetes Service. Without a
// Network every pod uses the host network with pod IP 127.0.0.1.
//
// What a real kubelet does and this agent does not: network policy,
// NodePorts and UDP Services, resource limits, probes, user
// and group IDs and other security context (everything runs as root),
// restarts (restartPolicy OnFailure and Always are treated as Never),
// exec/attach/logs endpoints (so Argo cannot signal a running pod through
// them), PersistentVolumeClaims, ephemeral and CSI volumes, and keeping
// Secret, ConfigMap and token volumes up to date after a pod starts.
//
// The agent needs root (mount namespaces).
package nodeagent
