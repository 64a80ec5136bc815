package containerd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/svclab/svclab/lab/image"
	"github.com/svclab/svclab/lab/runtime"
)

// snapshotter is the snapshotter every container uses.
const snapshotter = "overlayfs"

// importBuiltin makes the built-in images present unless every reference already points at
// the same manifests. It does not push the layer through containerd (a copy of a ~100 MB
// binary into the content store, then another when unpacking: seconds on a small machine):
// it writes the small blobs (configs, manifests) to the content store, builds the layer's
// snapshot directly — the binary hard-linked into it when on the same filesystem — and
// creates the images. The layer blob itself is never stored, like an image pulled with
// "discard unpacked layers"; image.Build's tarball remains the portable form.
func (r *Runtime) importBuiltin(ctx context.Context, im *image.Image, hashed time.Duration) error {
	begin := time.Now()
	chainID := im.Layer().Digest.String() // one uncompressed layer: digest = diff ID = chain ID
	sn := r.client.SnapshotService(snapshotter)
	is := r.client.ImageService()
	present := true
	for _, ref := range im.Refs() {
		want, _ := im.Manifest(ref)
		got, err := is.Get(ctx, ref)
		if err != nil || got.Target.Digest != want.Digest {
			present = false
			break
		}
	}
	if _, err := sn.Stat(ctx, chainID); err != nil {
		present = false
	}
	if !present {
		if err := r.writeBuiltin(ctx, im, chainID); err != nil {
			return fmt.Errorf("import the built-in image: %w", err)
		}
	}
	r.log.Info("built-in image ready", "refs", len(im.Refs()), "layerBytes", im.LayerSize(), "alreadyPresent", present,
		"hash", hashed.Round(time.Millisecond), "import", time.Since(begin).Round(time.Millisecond))
	return nil
}

func (r *Runtime) writeBuiltin(ctx context.Context, im *image.Image, chainID string) error {
	ctx, done, err := r.client.WithLease(ctx)
	if err != nil {
		return err
	}
	defer done(context.WithoutCancel(ctx))
	sn := r.client.SnapshotService(snapshotter)
	if _, err := sn.Stat(ctx, chainID); err != nil {
		key := "svclab-extract-" + randomHex() + " " + chainID
		mounts, err := sn.Prepare(ctx, key, "")
		if err != nil {
			return fmt.Errorf("prepare snapshot: %w", err)
		}
		if len(mounts) == 1 && mounts[0].Type == "bind" {
			err = im.WriteRootFS(mounts[0].Source) // an empty overlay snapshot is a plain directory
		} else {
			err = mount.WithTempMount(ctx, mounts, im.WriteRootFS)
		}
		if err == nil {
			err = sn.Commit(ctx, chainID, key)
		}
		if err != nil {
			sn.Remove(ctx, key)
			return fmt.Errorf("build the layer snapshot: %w", err)
		}
	}
	cs := r.client.ContentStore()
	for _, b := range im.Blobs() {
		labels := map[string]string{}
		switch b.Descriptor.MediaType {
		case ocispec.MediaTypeImageConfig:
			labels["containerd.io/gc.ref.snapshot."+snapshotter] = chainID
		case ocispec.MediaTypeImageManifest:
			var m ocispec.Manifest
			if err := json.Unmarshal(b.Data, &m); err != nil {
				return err
			}
			labels["containerd.io/gc.ref.content.config"] = m.Config.Digest.String()
			for i, l := range m.Layers {
				labels[fmt.Sprintf("containerd.io/gc.ref.content.l.%d", i)] = l.Digest.String()
			}
		}
		if err := content.WriteBlob(ctx, cs, "svclab-"+b.Descriptor.Digest.String(), bytes.NewReader(b.Data), b.Descriptor, content.WithLabels(labels)); err != nil {
			return fmt.Errorf("write %s: %w", b.Descriptor.Digest, err)
		}
		info := content.Info{Digest: b.Descriptor.Digest, Labels: labels}
		var fields []string
		for k := range labels {
			fields = append(fields, "labels."+k)
		}
		if _, err := cs.Update(ctx, info, fields...); err != nil {
			return fmt.Errorf("label %s: %w", b.Descriptor.Digest, err)
		}
	}
	for _, ref := range im.Refs() {
		target, _ := im.Manifest(ref)
		target.Annotations = nil
		img := images.Image{Name: ref, Target: target, Labels: map[string]string{"svclab.io/builtin": "true"}}
		if _, err := r.client.ImageService().Update(ctx, img, "target", "labels"); err != nil {
			if !errdefs.IsNotFound(err) {
				return fmt.Errorf("update image %s: %w", ref, err)
			}
			if _, err := r.client.ImageService().Create(ctx, img); err != nil {
				return fmt.Errorf("create image %s: %w", ref, err)
			}
		}
	}
	return nil
}

// ImportArchive imports an OCI or docker-save archive into the lab's namespace, unpacks it and
// returns the image names (svclab image import).
func (r *Runtime) ImportArchive(ctx context.Context, archive io.Reader) ([]string, error) {
	ctx = r.nsCtx(ctx)
	imgs, err := r.client.Import(ctx, archive)
	if err != nil {
		return nil, fmt.Errorf("import images: %w", err)
	}
	var names []string
	for _, i := range imgs {
		if err := unpack(ctx, client.NewImage(r.client, i)); err != nil {
			return names, err
		}
		names = append(names, i.Name)
	}
	return names, nil
}

func unpack(ctx context.Context, img client.Image) error {
	ok, err := img.IsUnpacked(ctx, snapshotter)
	if err == nil && ok {
		return nil
	}
	if err := img.Unpack(ctx, snapshotter); err != nil {
		return fmt.Errorf("unpack %s: %w", img.Name(), err)
	}
	return nil
}

// waitImport waits for the background import of the built-in image.
func (r *Runtime) waitImport(ctx context.Context) error {
	select {
	case <-r.importDone:
		return r.importErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EnsureImage implements runtime.Runtime. A present image is unpacked if needed; a missing one
// is pulled, but only after its registry answered within ResolveTimeout, so an offline lab
// fails in seconds with the reason.
func (r *Runtime) EnsureImage(ctx context.Context, ref string) error {
	ctx = r.nsCtx(ctx)
	norm, err := image.Normalize(ref)
	if err != nil {
		return fmt.Errorf("%w: %w", err, runtime.ErrImageNotFound)
	}
	builtin := image.IsBuiltin(norm)
	if builtin {
		if err := r.waitImport(ctx); err != nil {
			return fmt.Errorf("built-in image %s: %v: %w", ref, err, runtime.ErrImageNotFound)
		}
	}
	img, err := r.client.GetImage(ctx, norm)
	if err == nil {
		return unpack(ctx, img)
	}
	if !errdefs.IsNotFound(err) {
		return fmt.Errorf("look up image %s: %w", ref, err)
	}
	if builtin {
		return fmt.Errorf("built-in image %s is missing from containerd: %w", ref, runtime.ErrImageNotFound)
	}
	return r.pull(ctx, ref, norm)
}

func (r *Runtime) pull(ctx context.Context, ref, norm string) error {
	begin := time.Now()
	resolver := docker.NewResolver(docker.ResolverOptions{})
	rctx, cancel := context.WithTimeout(ctx, r.opts.ResolveTimeout)
	_, _, err := resolver.Resolve(rctx, norm)
	cancel()
	if err != nil {
		r.log.Info("image pull failed", "image", ref, "err", err, "took", time.Since(begin))
		return fmt.Errorf("pull image %s: %v: %w", ref, err, runtime.ErrImageNotFound)
	}
	pctx, cancel := context.WithTimeout(ctx, r.opts.PullTimeout)
	defer cancel()
	if _, err := r.client.Pull(pctx, norm, client.WithPullUnpack, client.WithPullSnapshotter(snapshotter), client.WithResolver(resolver)); err != nil {
		return fmt.Errorf("pull image %s: %v: %w", ref, err, runtime.ErrImageNotFound)
	}
	r.log.Info("image pulled", "image", ref, "took", time.Since(begin))
	return nil
}
