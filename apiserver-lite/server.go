package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	basecompatibility "k8s.io/component-base/compatibility"

	"github.com/svclab/svclab/apiserver-lite/openapi"
	"github.com/svclab/svclab/apiserver-lite/pki"
	"github.com/svclab/svclab/apiserver-lite/satoken"
)

// KubernetesVersion is the Kubernetes API version svclab serves (its k8s.io/api types).
const KubernetesVersion = "1.37.2"

// Options configures the API server.
type Options struct {
	// Listen is the HTTPS address, e.g. 127.0.0.1:6443; port 0 picks a free one.
	Listen string
	// DataDir holds etcd's data, the PKI and the allocator state.
	DataDir string
	// KubeconfigOut is where the admin kubeconfig is written (mode 0600).
	KubeconfigOut string
	// ClusterName names the kubeconfig's cluster, user and context.
	ClusterName string
	// ServiceClusterIPRange is the range ClusterIPs come from.
	ServiceClusterIPRange netip.Prefix
	// ServiceNodePortRange is the range NodePorts come from.
	ServiceNodePortRange utilnet.PortRange
	// AdvertiseAddress, when set, is published as the endpoint of the `kubernetes` Service
	// (the lab sets its node-network gateway address); it is added to the serving certificate.
	AdvertiseAddress net.IP
	// ExtraSANs are more names and addresses for the serving certificate.
	ExtraSANs []string
	// ExtraListenHosts are more addresses to serve on, on the same port as Listen (the lab
	// adds its node-network gateway so pods reach the server).
	ExtraListenHosts []string
	// Log receives the server's structured logs.
	Log *slog.Logger
}

// DefaultOptions returns Kubernetes' defaults.
func DefaultOptions() Options {
	return Options{
		Listen:                "127.0.0.1:6443",
		ClusterName:           "svclab",
		ServiceClusterIPRange: netip.MustParsePrefix("10.96.0.0/12"),
		ServiceNodePortRange:  utilnet.PortRange{Base: 30000, Size: 2768},
		Log:                   slog.Default(),
	}
}

// Server is a prepared API server: etcd is up, the port is bound and the kubeconfig written.
type Server struct {
	opts     Options
	etcd     *embed.Etcd
	generic  *genericapiserver.GenericAPIServer
	listener net.Listener
	stores   map[schema.GroupResource]*REST
	etcdURL  string
	podLogs  podLogSources
	streams  kubeletStreams

	// URL is the server's https URL as written in the kubeconfig.
	URL string
	// Bundle is the PKI (CA, serving and admin certificates, service-account key).
	Bundle *pki.Bundle
	// Issuer issues service-account tokens the server accepts.
	Issuer *satoken.Issuer
	// AdminConfig is a client config with the admin credentials of the kubeconfig.
	AdminConfig *restclient.Config
	// KubeconfigPath is where the kubeconfig was written.
	KubeconfigPath string
}

// New starts etcd, binds the port, writes the kubeconfig and builds the server. Call Run.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, fmt.Errorf("--data-dir is required")
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if !opts.ServiceClusterIPRange.IsValid() || !opts.ServiceClusterIPRange.Addr().Is4() {
		return nil, fmt.Errorf("--service-cluster-ip-range %q: an IPv4 CIDR is required", opts.ServiceClusterIPRange)
	}
	if opts.KubeconfigOut == "" {
		opts.KubeconfigOut = filepath.Join(opts.DataDir, "kubeconfig")
	}
	ln, err := listenAll(opts.Listen, opts.ExtraListenHosts)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, listener: ln, stores: map[schema.GroupResource]*REST{}}
	if err := s.build(ctx); err != nil {
		ln.Close()
		if s.etcd != nil {
			s.etcd.Close()
		}
		return nil, err
	}
	return s, nil
}

func (s *Server) build(ctx context.Context) error {
	opts := s.opts
	addr := s.listener.Addr().(*net.TCPAddr)
	host := opts.Listen
	if h, _, err := net.SplitHostPort(opts.Listen); err == nil {
		host = h
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	s.URL = "https://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))

	hosts := append([]string{host, firstIP(opts.ServiceClusterIPRange).String()}, opts.ExtraSANs...)
	hosts = append(hosts, opts.ExtraListenHosts...)
	if opts.AdvertiseAddress != nil {
		hosts = append(hosts, opts.AdvertiseAddress.String())
	}
	bundle, err := pki.Ensure(filepath.Join(opts.DataDir, "pki"), hosts)
	if err != nil {
		return fmt.Errorf("prepare certificates: %w", err)
	}
	s.Bundle = bundle
	issuer, err := satoken.NewIssuer(bundle.SAKey, "https://kubernetes.default.svc.cluster.local")
	if err != nil {
		return fmt.Errorf("service-account token issuer: %w", err)
	}
	s.Issuer = issuer
	if err := pki.WriteKubeconfig(opts.KubeconfigOut, s.URL, opts.ClusterName, bundle); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	s.KubeconfigPath = opts.KubeconfigOut
	if s.AdminConfig, err = clientcmd.BuildConfigFromFlags("", opts.KubeconfigOut); err != nil {
		return fmt.Errorf("read back kubeconfig %s: %w", opts.KubeconfigOut, err)
	}

	e, etcdURL, err := startEtcd(filepath.Join(opts.DataDir, "etcd"))
	if err != nil {
		return err
	}
	s.etcd = e
	s.etcdURL = etcdURL

	cfg := genericapiserver.NewConfig(Codecs)
	cfg.EffectiveVersion = servedVersion{basecompatibility.NewEffectiveVersionFromString(KubernetesVersion, "", "")}
	cfg.RESTOptionsGetter = restOptionsGetter{etcdURL: etcdURL}
	// End open watches when shutdown starts (clients re-watch elsewhere or after a restart);
	// otherwise the HTTP server waits its full 60s shutdown timeout for every informer.
	cfg.ShutdownWatchTerminationGracePeriod = 5 * time.Second
	cfg.LongRunningFunc = longRunningCheck
	cfg.ExternalAddress = net.JoinHostPort(host, strconv.Itoa(addr.Port))
	if opts.AdvertiseAddress != nil {
		cfg.PublicAddress = opts.AdvertiseAddress
	}
	serving := genericoptions.NewSecureServingOptions().WithLoopback()
	serving.Listener = s.listener
	serving.BindAddress = addr.IP
	serving.BindPort = addr.Port
	if serving.ServerCert.GeneratedCert, err = bundle.ServingContent(); err != nil {
		return err
	}
	if err := serving.ApplyTo(&cfg.SecureServing, &cfg.LoopbackClientConfig); err != nil {
		return fmt.Errorf("configure serving: %w", err)
	}
	clientCA, err := bundle.ClientCA()
	if err != nil {
		return err
	}
	cfg.SecureServing.ClientCA = clientCA
	certAuth, err := bundle.ClientCertAuthenticator()
	if err != nil {
		return err
	}
	audiences := authenticator.Audiences{"https://kubernetes.default.svc.cluster.local"}
	cfg.Authentication.APIAudiences = audiences
	tokenAuth := issuer.Authenticator(audiences, s.saGetter())
	cfg.Authentication.Authenticator = group.NewAuthenticatedGroupAdder(
		union.New(certAuth, bearertoken.New(tokenAuth)))
	// Everyone who authenticates may do everything: the lab has one user and its own
	// add-ons. Unauthenticated requests get 401.
	cfg.Authorization.Authorizer = authorizerfactory.NewAlwaysAllowAuthorizer()
	cfg.AdmissionControl = newAdmission(s)

	namer := openapinamer.NewDefinitionNamer(externalScheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIConfig.Info.Title = "Kubernetes"
	cfg.OpenAPIConfig.Info.Version = "v" + KubernetesVersion
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIV3Config.Info.Title = "Kubernetes"
	cfg.OpenAPIV3Config.Info.Version = "v" + KubernetesVersion

	completed := cfg.Complete(nil)
	generic, err := completed.New("svclab-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return fmt.Errorf("build API server: %w", err)
	}
	s.generic = generic
	if err := s.installAPIs(); err != nil {
		return err
	}
	generic.AddPostStartHookOrDie("svclab-bootstrap", func(hook genericapiserver.PostStartHookContext) error {
		return s.bootstrap(hook.Context, hook.LoopbackClientConfig)
	})
	return nil
}

// Run serves until ctx is done, then stops etcd.
func (s *Server) Run(ctx context.Context) error {
	defer s.etcd.Close()
	return s.generic.PrepareRun().RunWithContext(ctx)
}

// WaitReady blocks until the server answers /readyz (bootstrap objects are in place).
func (s *Server) WaitReady(ctx context.Context) error {
	client, err := restclient.RESTClientFor(withCodec(s.AdminConfig))
	if err != nil {
		return err
	}
	for {
		res := client.Get().AbsPath("/readyz").Do(ctx)
		var code int
		res.StatusCode(&code)
		if code == 200 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("API server at %s not ready: %w", s.URL, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func withCodec(c *restclient.Config) *restclient.Config {
	c = restclient.CopyConfig(c)
	c.NegotiatedSerializer = Codecs.WithoutConversion()
	c.GroupVersion = &schema.GroupVersion{Version: "v1"}
	c.APIPath = "/api"
	return c
}

// versionInfo is what /version answers.
func versionInfo() version.Info {
	return version.Info{Major: "1", Minor: "37", GitVersion: "v" + KubernetesVersion}
}

// servedVersion makes /version report versionInfo's git version: component-base's own is
// "v0.0.0-master+$Format:%H$" unless set by linker flags, which `kubectl version` cannot parse.
type servedVersion struct {
	basecompatibility.EffectiveVersion
}

func (v servedVersion) Info() *version.Info {
	info := v.EffectiveVersion.Info()
	if info != nil {
		info.GitVersion, info.GitCommit = versionInfo().GitVersion, ""
	}
	return info
}
