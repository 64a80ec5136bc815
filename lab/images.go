package lab

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/svclab/svclab/lab/image"
	"github.com/svclab/svclab/lab/runtime/containerd"
)

// runtimeOf is the runtime a running lab uses ("containerd" or "process").
func runtimeOf(name string) (string, error) {
	paths := PathsFor(name)
	// (The lab may also run in this very process: tests, and a future in-process UI.)
	if pid, alive := paths.RunningPID(); !alive && pid != os.Getpid() {
		return "", fmt.Errorf("no lab named %q is running: start one with `sudo svclab up --name %s`", name, name)
	}
	data, err := os.ReadFile(paths.RuntimeFile())
	if err != nil {
		return "", fmt.Errorf("lab %q has not started its runtime yet: %w", name, err)
	}
	return strings.TrimSpace(string(data)), nil
}

func attach(ctx context.Context, name string, log *slog.Logger) (*containerd.Runtime, error) {
	rt, err := runtimeOf(name)
	if err != nil {
		return nil, err
	}
	if rt != "containerd" {
		return nil, fmt.Errorf("lab %q runs the %s runtime, which has only the built-in images (%s:%s): start the lab with --runtime containerd to import others",
			name, rt, image.Repository, strings.Join(image.Tags, "|"))
	}
	return containerd.Attach(ctx, containerdOptions(Options{Name: name, Log: log}, PathsFor(name)))
}

// ImportImages loads an OCI or docker-save archive into the lab's containerd and returns the
// image names it held.
func ImportImages(ctx context.Context, name string, archive io.Reader, log *slog.Logger) ([]string, error) {
	r, err := attach(ctx, name, log)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.ImportArchive(ctx, archive)
}

// Images lists the images the lab's pods can use.
func Images(ctx context.Context, name string, log *slog.Logger) ([]containerd.ImageInfo, error) {
	rt, err := runtimeOf(name)
	if err != nil {
		return nil, err
	}
	if rt != "containerd" {
		var out []containerd.ImageInfo
		for _, t := range image.Tags {
			out = append(out, containerd.ImageInfo{Name: image.Repository + ":" + t, Builtin: true})
		}
		return out, nil
	}
	r, err := attach(ctx, name, log)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.ListImages(ctx)
}
