package image

import (
	"archive/tar"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// AnnotationImageName is containerd's index annotation naming the image a manifest is imported as.
const AnnotationImageName = "io.containerd.image.name"

// epoch is the fixed time stamped on every file and config so the same binary always yields
// the same digests (a re-import is then a no-op).
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Small files of the root filesystem besides the binary.
var rootFiles = []struct {
	name string
	mode int64
	body string
}{
	{"etc/", 0o755, ""},
	{"etc/group", 0o644, "root:x:0:\nnogroup:x:65534:\n"},
	{"etc/hosts", 0o644, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
	{"etc/passwd", 0o644, "root:x:0:0:root:/:/svclab\nnobody:x:65534:65534:nobody:/nonexistent:/svclab\n"},
	{"tmp/", 0o1777, ""},
}

// Image is the built-in image made from one binary, with every digest computed; write it
// with WriteTo.
type Image struct {
	binaryPath string
	binSize    int64
	layer      ocispec.Descriptor
	blobs      []blob // configs and manifests, in write order
	index      []byte
	manifests  map[string]ocispec.Descriptor // normalised ref → manifest
}

type blob struct {
	desc ocispec.Descriptor
	data []byte
}

// Describe reads binaryPath (the running executable when empty) once to compute the image's
// digests. The binary must be statically linked: the image holds nothing else.
func Describe(binaryPath string) (*Image, error) {
	if binaryPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the svclab binary: %w", err)
		}
		binaryPath = exe
	}
	if err := checkStatic(binaryPath); err != nil {
		return nil, err
	}
	st, err := os.Stat(binaryPath)
	if err != nil {
		return nil, fmt.Errorf("built-in image: %w", err)
	}
	im := &Image{binaryPath: binaryPath, binSize: st.Size(), manifests: map[string]ocispec.Descriptor{}}
	d := &digester{h: sha256.New()}
	if err := im.writeLayer(d); err != nil {
		return nil, err
	}
	im.layer = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.NewDigest(digest.SHA256, d.h), Size: d.n}
	if err := im.buildMetadata(); err != nil {
		return nil, err
	}
	return im, nil
}

// Build describes binaryPath's image and returns its OCI tarball as a stream (written by a
// goroutine; read it to the end or close it) with the references it names.
func Build(binaryPath string) (io.ReadCloser, []string, error) {
	im, err := Describe(binaryPath)
	if err != nil {
		return nil, nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := im.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	return pr, im.Refs(), nil
}

// Refs returns the normalised references the image is imported under.
func (im *Image) Refs() []string { return Refs() }

// Manifest returns the manifest descriptor the tarball gives ref (normalised), so a caller can
// skip an import whose images are already present.
func (im *Image) Manifest(ref string) (ocispec.Descriptor, bool) {
	norm, err := Normalize(ref)
	if err != nil {
		return ocispec.Descriptor{}, false
	}
	d, ok := im.manifests[norm]
	return d, ok
}

// LayerSize is the uncompressed size of the single layer.
func (im *Image) LayerSize() int64 { return im.layer.Size }

func (im *Image) buildMetadata() error {
	var index ocispec.Index
	index.SchemaVersion = 2
	index.MediaType = ocispec.MediaTypeImageIndex
	platform := &ocispec.Platform{OS: "linux", Architecture: goarch()}
	byTag := map[string]ocispec.Descriptor{}
	for _, tag := range Tags {
		c := configForTag(tag)
		cfg := ocispec.Image{
			Created:  &epoch,
			Platform: *platform,
			Config: ocispec.ImageConfig{
				Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir,
				Labels: map[string]string{ocispec.AnnotationVersion: tag, ocispec.AnnotationTitle: "svclab agent"},
			},
			RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{im.layer.Digest}},
		}
		cfgDesc, err := im.addBlob(ocispec.MediaTypeImageConfig, cfg)
		if err != nil {
			return err
		}
		m := ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    cfgDesc,
			Layers:    []ocispec.Descriptor{im.layer},
		}
		mDesc, err := im.addBlob(ocispec.MediaTypeImageManifest, m)
		if err != nil {
			return err
		}
		mDesc.Platform = platform
		byTag[tag] = mDesc
	}
	for _, repo := range []string{Repository, ShortRepository} {
		for _, tag := range Tags {
			d := byTag[tag]
			name := repo + ":" + tag
			im.manifests[name] = d
			d.Annotations = map[string]string{AnnotationImageName: name, ocispec.AnnotationRefName: tag}
			index.Manifests = append(index.Manifests, d)
		}
	}
	data, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("encode image index: %w", err)
	}
	im.index = data
	return nil
}

func (im *Image) addBlob(mediaType string, v any) (ocispec.Descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("encode %s: %w", mediaType, err)
	}
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	for _, b := range im.blobs {
		if b.desc.Digest == d.Digest {
			return d, nil
		}
	}
	im.blobs = append(im.blobs, blob{desc: d, data: data})
	return d, nil
}

// WriteTo writes the OCI image layout tarball (oci-layout, blobs, index.json) to w.
func (im *Image) WriteTo(w io.Writer) (int64, error) {
	cw := &digester{w: w}
	tw := tar.NewWriter(cw)
	small := func(name string, data []byte) error {
		if err := tw.WriteHeader(fileHeader(name, 0o644, int64(len(data)))); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := small("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return cw.n, fmt.Errorf("write image tarball: %w", err)
	}
	if err := tw.WriteHeader(fileHeader(blobPath(im.layer.Digest), 0o644, im.layer.Size)); err != nil {
		return cw.n, fmt.Errorf("write image tarball: %w", err)
	}
	lw := &digester{w: tw, h: sha256.New()}
	if err := im.writeLayer(lw); err != nil {
		return cw.n, err
	}
	if got := digest.NewDigest(digest.SHA256, lw.h); got != im.layer.Digest || lw.n != im.layer.Size {
		return cw.n, fmt.Errorf("write image tarball: %s changed while it was being read", im.binaryPath)
	}
	for _, b := range im.blobs {
		if err := small(blobPath(b.desc.Digest), b.data); err != nil {
			return cw.n, fmt.Errorf("write image tarball: %w", err)
		}
	}
	if err := small("index.json", im.index); err != nil {
		return cw.n, fmt.Errorf("write image tarball: %w", err)
	}
	if err := tw.Close(); err != nil {
		return cw.n, fmt.Errorf("write image tarball: %w", err)
	}
	return cw.n, nil
}

// writeLayer writes the layer tar: the binary at /svclab plus a minimal /etc and /tmp.
func (im *Image) writeLayer(w io.Writer) error {
	tw := tar.NewWriter(w)
	f, err := os.Open(im.binaryPath)
	if err != nil {
		return fmt.Errorf("built-in image: %w", err)
	}
	defer f.Close()
	for _, rf := range rootFiles[:4] { // etc/...
		if err := writeEntry(tw, rf.name, rf.mode, []byte(rf.body)); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(fileHeader(path.Base(BinaryPath), 0o755, im.binSize)); err != nil {
		return fmt.Errorf("built-in image layer: %w", err)
	}
	if n, err := io.Copy(tw, io.LimitReader(f, im.binSize)); err != nil || n != im.binSize {
		return fmt.Errorf("built-in image layer: copy %s (%d of %d bytes): %v", im.binaryPath, n, im.binSize, err)
	}
	for _, rf := range rootFiles[4:] { // tmp/
		if err := writeEntry(tw, rf.name, rf.mode, nil); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("built-in image layer: %w", err)
	}
	return nil
}

func writeEntry(tw *tar.Writer, name string, mode int64, body []byte) error {
	hdr := fileHeader(name, mode, int64(len(body)))
	if name[len(name)-1] == '/' {
		hdr.Typeflag, hdr.Size = tar.TypeDir, 0
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("built-in image layer: %w", err)
	}
	if _, err := tw.Write(body); err != nil {
		return fmt.Errorf("built-in image layer: %w", err)
	}
	return nil
}

func fileHeader(name string, mode, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: epoch, Format: tar.FormatPAX}
}

func blobPath(d digest.Digest) string { return "blobs/" + d.Algorithm().String() + "/" + d.Encoded() }

// checkStatic refuses a dynamically linked binary: it would not start in the image's empty root.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("built-in image: %s is not an ELF executable: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("built-in image: %s is dynamically linked; build it with CGO_ENABLED=0", p)
		}
	}
	return nil
}

// digester counts (and optionally hashes) what passes through it to w (or nowhere).
type digester struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (d *digester) Write(p []byte) (int, error) {
	if d.h != nil {
		d.h.Write(p)
	}
	d.n += int64(len(p))
	if d.w == nil {
		return len(p), nil
	}
	return d.w.Write(p)
}
