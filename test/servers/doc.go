// Package servers starts single real servers (MinIO, Redis) for integration tests
// that need one component, not the whole local stack. Each server runs on a
// free loopback port in the test's temporary directory and stops with the
// test. StartRedisWith and StartMinioWith start them speaking only TLS,
// with a certificate from a throwaway CA (NewTestCA), and Redis with ACL
// users.
//
// A missing binary skips the test with a message saying how to get it,
// unless KFPARGO_REQUIRE_SERVERS=1 (set by make test and CI), where it fails:
// there the evidence must not silently disappear.
package servers
