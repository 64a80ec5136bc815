package podagent

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults for Options.
const (
	DefaultHTTPPort      = 80
	DefaultTCPPort       = 9000
	DefaultUDPPort       = 9001
	DefaultVersion       = "v1"
	DefaultShutdownGrace = 20 * time.Second
)

// Environment variables the agent reads (the downward API sets the identity ones).
const (
	EnvHTTPPort      = "HTTP_PORT"
	EnvTCPPort       = "TCP_PORT"
	EnvUDPPort       = "UDP_PORT"
	EnvPodName       = "POD_NAME"
	EnvPodNamespace  = "POD_NAMESPACE"
	EnvPodIP         = "POD_IP"
	EnvNodeName      = "NODE_NAME"
	EnvVersion       = "SVCLAB_IMAGE_VERSION"
	EnvShutdownDelay = "SHUTDOWN_DELAY"
)

// serviceAccountNamespaceFile is where a pod with a mounted token finds its namespace.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Identity is what the agent reports about the pod it runs in.
type Identity struct {
	PodName   string `json:"pod"`
	Namespace string `json:"namespace"`
	PodIP     string `json:"ip"`
	NodeName  string `json:"node"`
	Version   string `json:"version"`
}

// Options configures Run.
type Options struct {
	// ListenHost is the address the listeners bind ("" means every address).
	ListenHost string
	// HTTPPort, TCPPort and UDPPort are the listening ports; 0 disables TCP or UDP echo
	// (HTTP is always served; tests may use an ephemeral port through Listeners).
	HTTPPort, TCPPort, UDPPort int
	// Identity is what every answer reports.
	Identity Identity
	// Ready is the initial readiness reported by /readyz.
	Ready bool
	// LivenessFailFile, when set, makes /healthz fail while that file exists.
	LivenessFailFile string
	// ShutdownDelay keeps serving (while reporting not ready) this long after the stop signal,
	// so a learner can watch the endpoint turn "terminating" before the pod goes away.
	ShutdownDelay time.Duration
	// ShutdownGrace bounds how long in-flight requests may take to finish after the delay.
	ShutdownGrace time.Duration
	// AccessLog receives one line per HTTP request and TCP/UDP exchange (stdout by default).
	AccessLog io.Writer
	// Log receives lifecycle messages.
	Log *slog.Logger
	// Listeners, when set, are used instead of binding the ports (tests use ephemeral ports).
	Listeners *Listeners
	// Started, when set, is called with the bound addresses once the agent is serving.
	Started func(Addrs)
}

// Listeners are pre-opened sockets for Run; nil fields fall back to the configured ports.
type Listeners struct {
	HTTP net.Listener
	TCP  net.Listener
	UDP  net.PacketConn
}

// Addrs are the addresses the agent serves on; empty when a protocol is disabled.
type Addrs struct {
	HTTP, TCP, UDP string
}

// DefaultOptions returns the options of an agent started without flags or environment.
func DefaultOptions() Options {
	return Options{
		HTTPPort:      DefaultHTTPPort,
		TCPPort:       DefaultTCPPort,
		UDPPort:       DefaultUDPPort,
		Identity:      Identity{Version: DefaultVersion},
		Ready:         true,
		ShutdownGrace: DefaultShutdownGrace,
	}
}

// OptionsFromEnv returns DefaultOptions overlaid with the environment seen through lookup
// (os.LookupEnv in the binary), filling in identity fallbacks for what the environment lacks.
func OptionsFromEnv(lookup func(string) (string, bool)) (Options, error) {
	o := DefaultOptions()
	for _, p := range []struct {
		env string
		dst *int
	}{{EnvHTTPPort, &o.HTTPPort}, {EnvTCPPort, &o.TCPPort}, {EnvUDPPort, &o.UDPPort}} {
		v, ok := lookup(p.env)
		if !ok || v == "" {
			continue
		}
		n, err := parsePort(v)
		if err != nil {
			return o, fmt.Errorf("%s=%q: %w", p.env, v, err)
		}
		*p.dst = n
	}
	if v, ok := lookup(EnvShutdownDelay); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return o, fmt.Errorf("%s=%q: %w", EnvShutdownDelay, v, err)
		}
		o.ShutdownDelay = d
	}
	// The downward API variables a manifest sets win; without them the kubelet's
	// SVCLAB_* copies (set for the built-in image only) say who the agent is.
	get := func(k string) string {
		if v, _ := lookup(k); v != "" {
			return v
		}
		v, _ := lookup("SVCLAB_" + k)
		return v
	}
	o.Identity = Identity{
		PodName:   get(EnvPodName),
		Namespace: get(EnvPodNamespace),
		PodIP:     get(EnvPodIP),
		NodeName:  get(EnvNodeName),
		Version:   get(EnvVersion),
	}
	o.Identity = o.Identity.withFallbacks()
	return o, nil
}

// withFallbacks fills empty identity fields from the hostname, the service-account namespace
// file and the first non-loopback address, so the agent is informative outside a pod too.
func (id Identity) withFallbacks() Identity {
	if id.PodName == "" {
		// $HOSTNAME first: the process runtime has no UTS namespace and passes the pod's
		// hostname (its name) that way.
		if h := os.Getenv("HOSTNAME"); h != "" {
			id.PodName = h
		} else if h, err := os.Hostname(); err == nil {
			id.PodName = h
		}
	}
	if id.Namespace == "" {
		if b, err := os.ReadFile(serviceAccountNamespaceFile); err == nil {
			id.Namespace = strings.TrimSpace(string(b))
		}
	}
	if id.PodIP == "" {
		id.PodIP = firstAddress()
	}
	if id.Version == "" {
		id.Version = DefaultVersion
	}
	for _, f := range []*string{&id.PodName, &id.Namespace, &id.PodIP, &id.NodeName} {
		if *f == "" {
			*f = "unknown"
		}
	}
	return id
}

// firstAddress returns the first global-unicast interface address, preferring IPv4.
func firstAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	var v6 string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || !ipn.IP.IsGlobalUnicast() {
			continue
		}
		if ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
		if v6 == "" {
			v6 = ipn.IP.String()
		}
	}
	return v6
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("not a port number: %w", err)
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range 0-65535", n)
	}
	return n, nil
}

func (o *Options) validate() error {
	for _, p := range []struct {
		name string
		v    int
	}{{"HTTP", o.HTTPPort}, {"TCP", o.TCPPort}, {"UDP", o.UDPPort}} {
		if p.v < 0 || p.v > 65535 {
			return fmt.Errorf("%s port %d out of range 0-65535", p.name, p.v)
		}
	}
	if o.HTTPPort == 0 && (o.Listeners == nil || o.Listeners.HTTP == nil) {
		return fmt.Errorf("HTTP port must be set (1-65535)")
	}
	if o.ShutdownDelay < 0 || o.ShutdownGrace < 0 {
		return fmt.Errorf("shutdown delay and grace must not be negative")
	}
	return nil
}
