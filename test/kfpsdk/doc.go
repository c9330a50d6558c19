// Package kfpsdk lets tests run lightweight Python components, exactly as
// the KFP SDK compiled them, without a network: their command pip-installs
// kfp before it runs the SDK's executor. A stand-in pip that installs
// nothing, and python3 wrappers that put the SDK source from KFP_SDK_DIR
// (a KFP checkout's sdk/python) on PYTHONPATH, make that install a no-op.
package kfpsdk
