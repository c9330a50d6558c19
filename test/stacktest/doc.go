// Package stacktest holds what the tests that bring up the local stack
// (test/localstack) share: when they may run, and where the stack's
// progress output goes.
package stacktest
