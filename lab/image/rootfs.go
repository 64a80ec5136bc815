package image

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Blob is one of the image's small blobs: an image config or a manifest.
type Blob struct {
	Descriptor ocispec.Descriptor
	Data       []byte
}

// Blobs returns the image's configs and manifests (everything but the layer).
func (im *Image) Blobs() []Blob {
	out := make([]Blob, len(im.blobs))
	for i, b := range im.blobs {
		out[i] = Blob{Descriptor: b.desc, Data: b.data}
	}
	return out
}

// Layer returns the descriptor of the single, uncompressed layer (its digest is also its
// diff ID and chain ID).
func (im *Image) Layer() ocispec.Descriptor { return im.layer }

// WriteRootFS writes the layer's files into dir, the same tree the layer tarball holds. The
// binary is hard-linked when dir is on the same mount (no copy of ~100 MB), copied otherwise;
// either way it must not be written to afterwards.
func (im *Image) WriteRootFS(dir string) error {
	for _, rf := range rootFiles {
		p := filepath.Join(dir, rf.name)
		var err error
		if rf.name[len(rf.name)-1] == '/' {
			err = os.MkdirAll(p, 0o755)
		} else {
			err = os.WriteFile(p, []byte(rf.body), 0o644)
		}
		if err == nil {
			err = os.Chmod(p, os.FileMode(rf.mode&0o777)|modeBits(rf.mode))
		}
		if err != nil {
			return fmt.Errorf("built-in image root: %w", err)
		}
	}
	dst := filepath.Join(dir, filepath.Base(BinaryPath))
	os.Remove(dst)
	if err := os.Link(im.binaryPath, dst); err == nil {
		return nil
	} else if !errors.Is(err, syscall.EXDEV) && !errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("built-in image root: %w", err)
	}
	return copyFile(im.binaryPath, dst, im.binSize)
}

func modeBits(mode int64) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

func copyFile(src, dst string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("built-in image root: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("built-in image root: %w", err)
	}
	if n, err := io.Copy(out, io.LimitReader(in, size)); err != nil || n != size {
		out.Close()
		return fmt.Errorf("built-in image root: copy %s (%d of %d bytes): %v", src, n, size, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("built-in image root: %w", err)
	}
	return nil
}
