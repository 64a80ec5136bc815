package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestTag(t *testing.T) {
	tests := []struct {
		ref     string
		tag     string
		builtin bool
	}{
		{"svclab.local/agent:v1", "v1", true},
		{"svclab.local/agent:v2", "v2", true},
		{"svclab.local/agent", "latest", true},
		{"svclab/agent:v1", "v1", true},
		{"svclab/agent", "latest", true},
		{"docker.io/svclab/agent:v2", "v2", true},
		{"docker.io/svclab/agent:latest", "latest", true},
		{"svclab.local/agent:v3", "", false},
		{"nginx", "", false},
		{"svclab.local/other:v1", "", false},
		{"example.com/svclab/agent:v1", "", false},
		{"svclab.local/agent@sha256:" + digest.FromString("x").Encoded(), "", false},
		{"Not A Ref", "", false},
	}
	for _, tt := range tests {
		tag, ok := Tag(tt.ref)
		if tag != tt.tag || ok != tt.builtin || IsBuiltin(tt.ref) != tt.builtin {
			t.Errorf("Tag(%q) = %q, %v; want %q, %v", tt.ref, tag, ok, tt.tag, tt.builtin)
		}
	}
}

func TestConfigFor(t *testing.T) {
	c, err := ConfigFor("svclab/agent:v2")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Entrypoint, []string{"/svclab"}) || !slices.Equal(c.Cmd, []string{"pod-agent"}) || !slices.Contains(c.Env, "SVCLAB_IMAGE_VERSION=v2") {
		t.Errorf("ConfigFor(v2) = %+v", c)
	}
	if _, err := ConfigFor("nginx:1.25"); err == nil {
		t.Error("ConfigFor(nginx) succeeded")
	}
}

func TestCheckStatic(t *testing.T) {
	if err := checkStatic("/bin/sh"); err == nil {
		t.Error("checkStatic(/bin/sh) accepted a dynamically linked binary")
	}
	f := t.TempDir() + "/notelf"
	os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755)
	if err := checkStatic(f); err == nil {
		t.Error("checkStatic accepted a script")
	}
}

// testBinary compiles a tiny static program to wrap.
func testBinary(t *testing.T) string {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hi\") }\n"), 0o644)
	cmd := exec.Command("go", "build", "-o", "tiny", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "tiny")
}

func TestBuild(t *testing.T) {
	bin := testBinary(t)
	rc, refs, err := Build(bin)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(refs, Refs()) || len(refs) != 6 {
		t.Errorf("refs = %v", refs)
	}
	files := untar(t, data)
	for name, body := range files {
		if d, ok := blobDigest(name); ok && digest.FromBytes(body) != d {
			t.Errorf("blob %s has digest %s", name, digest.FromBytes(body))
		}
	}
	var index ocispec.Index
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, m := range index.Manifests {
		var man ocispec.Manifest
		mustJSON(t, files[blobPath(m.Digest)], &man)
		var cfg ocispec.Image
		mustJSON(t, files[blobPath(man.Config.Digest)], &cfg)
		names[m.Annotations[AnnotationImageName]] = cfg.Config.Env[1]
		if len(man.Layers) != 1 || m.Platform == nil || m.Platform.OS != "linux" {
			t.Errorf("manifest %s: layers %d, platform %v", m.Digest, len(man.Layers), m.Platform)
		}
		layer := untar(t, files[blobPath(man.Layers[0].Digest)])
		want, _ := os.ReadFile(bin)
		if !bytes.Equal(layer["svclab"], want) || layer["etc/passwd"] == nil {
			t.Errorf("layer lacks svclab or etc/passwd: %d files", len(layer))
		}
	}
	wantNames := map[string]string{
		"svclab.local/agent:v1": "SVCLAB_IMAGE_VERSION=v1", "svclab.local/agent:v2": "SVCLAB_IMAGE_VERSION=v2",
		"svclab.local/agent:latest": "SVCLAB_IMAGE_VERSION=latest", "docker.io/svclab/agent:v1": "SVCLAB_IMAGE_VERSION=v1",
		"docker.io/svclab/agent:v2": "SVCLAB_IMAGE_VERSION=v2", "docker.io/svclab/agent:latest": "SVCLAB_IMAGE_VERSION=latest",
	}
	if len(names) != len(wantNames) {
		t.Errorf("index names = %v", names)
	}
	for n, env := range wantNames {
		if names[n] != env {
			t.Errorf("image %s env = %q, want %q", n, names[n], env)
		}
	}

	// Deterministic: the same binary yields the same bytes.
	rc2, _, _ := Build(bin)
	data2, _ := io.ReadAll(rc2)
	if !bytes.Equal(data, data2) {
		t.Error("two builds of the same binary differ")
	}
}

func untar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out[hdr.Name] = body
	}
}

func blobDigest(name string) (digest.Digest, bool) {
	const p = "blobs/sha256/"
	if len(name) <= len(p) || name[:len(p)] != p {
		return "", false
	}
	return digest.NewDigestFromEncoded(digest.SHA256, name[len(p):]), true
}

func mustJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func TestWriteRootFS(t *testing.T) {
	im, err := Describe(testBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := im.WriteRootFS(dir); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"svclab": 0o755, "etc/passwd": 0o644, "etc/hosts": 0o644, "tmp": os.ModeDir | os.ModeSticky | 0o777} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if st.Mode() != mode {
			t.Errorf("%s mode = %v, want %v", name, st.Mode(), mode)
		}
	}
	if len(im.Blobs()) != 6 || im.Layer().Size == 0 { // 3 configs + 3 manifests
		t.Errorf("Blobs = %d, layer %+v", len(im.Blobs()), im.Layer())
	}
}
