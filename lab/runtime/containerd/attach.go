package containerd

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Attach connects to the containerd a running lab uses (its private daemon, or the system
// one) without starting, importing or owning anything: Close leaves the daemon running.
// It is what `svclab image import` and `svclab image ls` use from another process.
func Attach(ctx context.Context, opts Options) (*Runtime, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("containerd runtime: %w", err)
	}
	r := &Runtime{opts: opts, ns: Namespace(opts.Lab), log: opts.Log.With("component", "runtime", "runtime", "containerd", "lab", opts.Lab), started: map[string]time.Time{}}
	if err := r.connect(ctx, false); err != nil {
		if errors.Is(err, errNoDaemon) {
			return nil, fmt.Errorf("the lab's containerd is not running: start the lab with `sudo svclab up --runtime containerd`")
		}
		return nil, err
	}
	r.daemon = nil // not ours to stop
	return r, nil
}

// ImageInfo is one image of the lab's namespace, for `svclab image ls`.
type ImageInfo struct {
	Name    string
	Digest  string
	Builtin bool
	Created time.Time
}

// ListImages returns the images in the lab's namespace, sorted by name.
func (r *Runtime) ListImages(ctx context.Context) ([]ImageInfo, error) {
	ctx = r.nsCtx(ctx)
	imgs, err := r.client.ImageService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []ImageInfo
	for _, i := range imgs {
		out = append(out, ImageInfo{Name: i.Name, Digest: i.Target.Digest.String(),
			Builtin: i.Labels["svclab.io/builtin"] == "true", Created: i.CreatedAt})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}
