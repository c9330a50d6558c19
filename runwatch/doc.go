// Package runwatch follows a submitted run until it ends and shows its
// progress: a step table redrawn in place on a terminal (phase, duration,
// ran or cached, pod), one line per change elsewhere, and a summary line.
// The CLI's submit --watch and run use it.
package runwatch
