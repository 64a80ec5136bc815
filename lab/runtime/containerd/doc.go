// Package containerd is the runtime that runs pods as containerd containers, through an
// existing containerd socket or a private containerd that svclab starts for the lab.
package containerd
