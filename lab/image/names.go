package image

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/distribution/reference"
)

// Repository is the built-in image's canonical repository (kubectl set image ...=svclab.local/agent:v2).
const Repository = "svclab.local/agent"

// ShortRepository is the Docker-Hub-style alias of Repository (svclab/agent:v1, normalised to
// docker.io/svclab/agent:v1); both name the same images.
const ShortRepository = "docker.io/svclab/agent"

// BinaryPath is where the svclab binary sits inside the image.
const BinaryPath = "/svclab"

// VersionEnv is the environment variable through which the agent learns the version it
// reports; each tag sets it to the tag itself.
const VersionEnv = "SVCLAB_IMAGE_VERSION"

// ShutdownDelayEnv makes the agent a well-behaved backend: on SIGTERM it reports not ready
// and keeps serving for 2s before it stops accepting, as a preStop sleep does for apps on
// a real cluster. The Service's endpoints change when the pod's deletion starts; kube-proxy
// and the ingress need a moment to follow, and a backend that exited at once would drop
// what they still send it. A pod's SHUTDOWN_DELAY overrides it.
const ShutdownDelayEnv = "SHUTDOWN_DELAY=2s"

// Tags are the built-in image's tags; each is also the version its agent reports.
var Tags = []string{"v1", "v2", "latest"}

// DefaultPath is the PATH set in the image's environment.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Config is the part of the image configuration a runtime needs to start a container.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
}

// Refs returns every normalised reference the built-in image is imported under, canonical
// repository first.
func Refs() []string {
	var refs []string
	for _, repo := range []string{Repository, ShortRepository} {
		for _, tag := range Tags {
			refs = append(refs, repo+":"+tag)
		}
	}
	return refs
}

// Normalize returns the fully qualified form of ref (svclab/agent → docker.io/svclab/agent:latest).
func Normalize(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	return named.String(), nil
}

// Tag returns the built-in tag ref names, and false when ref is not a built-in image.
func Tag(ref string) (string, bool) {
	norm, err := Normalize(ref)
	if err != nil {
		return "", false
	}
	for _, repo := range []string{Repository, ShortRepository} {
		if tag, ok := strings.CutPrefix(norm, repo+":"); ok {
			for _, t := range Tags {
				if t == tag {
					return tag, true
				}
			}
		}
	}
	return "", false
}

// IsBuiltin reports whether ref names the built-in image (svclab.local/agent:v1,
// svclab/agent:v2, docker.io/svclab/agent, ...). References by digest are not built-in.
func IsBuiltin(ref string) bool {
	_, ok := Tag(ref)
	return ok
}

// ConfigFor returns the image configuration of the built-in image ref.
func ConfigFor(ref string) (Config, error) {
	tag, ok := Tag(ref)
	if !ok {
		return Config{}, fmt.Errorf("%q is not a built-in svclab image (%s:%s)", ref, Repository, strings.Join(Tags, "|"))
	}
	return configForTag(tag), nil
}

func configForTag(tag string) Config {
	return Config{
		Entrypoint: []string{BinaryPath},
		Cmd:        []string{"pod-agent"},
		Env:        []string{"PATH=" + DefaultPath, VersionEnv + "=" + tag, ShutdownDelayEnv},
		WorkingDir: "/",
	}
}

// goarch returns the OCI architecture of this build.
func goarch() string { return runtime.GOARCH }
