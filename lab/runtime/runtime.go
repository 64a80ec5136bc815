// Package runtime defines how kubelet-lite runs containers, with one implementation per
// runtime: containerd (lab/runtime/containerd) and plain child processes
// (lab/runtime/process).
package runtime

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrImageNotFound is returned (wrapped, with the runtime's own message) when an image is not
// present and cannot be pulled; kubelet-lite reports it as ErrImagePull.
var ErrImageNotFound = errors.New("image not found")

// ErrNotFound is returned for an unknown container.
var ErrNotFound = errors.New("container not found")

// Mount is a bind mount into the container.
type Mount struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
}

// ContainerSpec is everything needed to start one container of a pod.
type ContainerSpec struct {
	// ID names the container uniquely within the lab (kubelet-lite builds it from the pod
	// UID, container name and restart count); runtimes use it as their own ID.
	ID string
	// PodUID, PodName, PodNamespace and ContainerName are for labels and logs.
	PodUID, PodName, PodNamespace, ContainerName string
	// Image is the image reference (e.g. svclab/agent:v1).
	Image string
	// Command and Args follow Kubernetes: Command replaces the image entrypoint, Args its cmd.
	Command, Args []string
	// Env is KEY=VALUE pairs.
	Env        []string
	WorkingDir string
	// NetNSPath is the network namespace to join (the pod's, or the node's for hostNetwork).
	NetNSPath string
	Hostname  string
	Mounts    []Mount
	// LogPath receives stdout and stderr (kubelet's CRI log format is not required: raw bytes).
	LogPath string
	// Handler is the pod's RuntimeClass handler ("" for the default runtime); only Multi
	// looks at it.
	Handler string
}

// State is what a container is doing.
type State string

const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateExited  State = "exited"
	StateUnknown State = "unknown"
)

// Status is a container's current status.
type Status struct {
	State      State
	ExitCode   int
	Reason     string // e.g. "Error", "Completed", "OOMKilled"
	StartedAt  time.Time
	FinishedAt time.Time
	PID        int
}

// ExecRequest is a command to run inside a running container.
type ExecRequest struct {
	Cmd    []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	TTY    bool
}

// Runtime runs containers.
type Runtime interface {
	// Name is "containerd" or "process".
	Name() string
	// EnsureImage makes the image available, failing fast (bounded by ctx) with
	// ErrImageNotFound when it cannot be had.
	EnsureImage(ctx context.Context, ref string) error
	// Start creates and starts a container; its output goes to spec.LogPath.
	Start(ctx context.Context, spec ContainerSpec) error
	// Stop sends SIGTERM, waits up to grace, then SIGKILL; it returns once the container has
	// exited. Stopping an exited container is not an error.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Status reports a container's state (ErrNotFound when unknown).
	Status(ctx context.Context, id string) (Status, error)
	// Exec runs a command in a running container and returns its exit code.
	Exec(ctx context.Context, id string, req ExecRequest) (int, error)
	// Remove deletes a stopped container and its resources.
	Remove(ctx context.Context, id string) error
	// List returns the IDs of every container this runtime holds for the lab.
	List(ctx context.Context) ([]string, error)
	// Cleanup removes everything the runtime created for the lab (containers, tasks,
	// snapshots, images, namespaces, cgroups, private daemon state); it is idempotent and
	// works after a crash.
	Cleanup(ctx context.Context) error
	// Close releases the runtime's connections (and stops a private daemon).
	Close() error
}
