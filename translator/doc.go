// Package translator turns a KFP pipeline (package ir) into Argo Workflows
// objects. It is a pure function: bytes were decoded by the caller, objects
// come out, and nothing here does I/O.
//
// Every executor task becomes one Argo DAG task running one pod: an init
// container copies the launcher into a shared emptyDir and the main container
// runs the component's own image with the launcher in front of its command.
// Artifacts move between tasks as small JSON descriptors in Argo parameters;
// their bytes stay in the object store.
package translator
