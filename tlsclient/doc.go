// Package tlsclient builds the TLS client settings with which the launcher,
// the cache webhook and the kfpargo CLI reach Redis and the object store.
//
// One place decides them so that every client agrees: TLS 1.2 or newer,
// the system's roots plus an optional private CA given as PEM (a Secret key
// imported as an environment variable in step pods, a mounted file in the
// webhook), and certificates always verified: there is deliberately no way
// to skip verification.
package tlsclient
