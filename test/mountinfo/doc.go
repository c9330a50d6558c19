// Package mountinfo reads Linux mount tables. The local stack and its node
// agent both create host paths as mount points for containers, and must not
// remove one that a container in any mount namespace still mounts over:
// removing it would detach that container's volume under it.
package mountinfo
