// Package imageconfig reads what a container image runs by default (its
// ENTRYPOINT and CMD) from the image's registry. The launcher wraps a
// step's command, so a KFP container without a command (the image's own
// entrypoint is meant) needs it spelled out at compile time.
package imageconfig
