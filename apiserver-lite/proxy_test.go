package apiserver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

func TestRandomEndpoint(t *testing.T) {
	slice := func(name string, port int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps,
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To(name), Port: ptr.To(port)}}}
	}
	ep := func(ip string, ready bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}}
	}
	slices := []*discoveryv1.EndpointSlice{
		slice("http", 8080, ep("10.244.1.2", false), ep("10.244.1.3", true)),
		slice("", 9090, ep("10.244.1.4", true)),
	}
	for i := 0; i < 20; i++ {
		if got, err := randomEndpoint("web", slices, "http", corev1.IPv4Protocol); err != nil || got != "10.244.1.3:8080" {
			t.Fatalf("port http: %q, %v; want the ready endpoint 10.244.1.3:8080", got, err)
		}
	}
	if got, err := randomEndpoint("web", slices, "", corev1.IPv4Protocol); err != nil || got != "10.244.1.4:9090" {
		t.Errorf("unnamed port: %q, %v", got, err)
	}
	_, err := randomEndpoint("web", []*discoveryv1.EndpointSlice{slice("http", 80, ep("10.244.1.2", false))}, "http", corev1.IPv4Protocol)
	if err == nil || err.Error() != `no endpoints available for service "web"` {
		t.Errorf("no ready endpoint: %v", err)
	}
}

func TestRewriteLocation(t *testing.T) {
	backend := &url.URL{Scheme: "http", Host: "10.244.1.3:8080"}
	prefix := "/api/v1/namespaces/default/services/web:80/proxy/"
	for in, want := range map[string]string{
		"/login?next=/":                  prefix[:len(prefix)-1] + "/login?next=/",
		"http://10.244.1.3:8080/a":       prefix[:len(prefix)-1] + "/a",
		"https://example.com/elsewhere":  "https://example.com/elsewhere",
		"relative/path":                  "relative/path",
		"http://10.244.1.9:8080/another": "http://10.244.1.9:8080/another",
	} {
		if got := rewriteLocation(in, backend, prefix); got != want {
			t.Errorf("rewriteLocation(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHTTPProxy(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/target", http.StatusFound)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" auth="+r.Header.Get("Authorization"))
	}))
	defer backend.Close()
	bu, _ := url.Parse(backend.URL)
	const base = "/api/v1/namespaces/default/services/web:80/proxy"
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loc := *bu
		loc.Path = strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, base), "/")
		if loc.Path != "" {
			loc.Path = "/" + loc.Path
		}
		httpProxy(&loc, http.DefaultTransport, &recordingResponder{w: w}).ServeHTTP(w, r)
	}))
	defer front.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", front.URL+path, nil)
		req.Header.Set("Authorization", "Bearer secret")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := get(base + "/"); body != "GET / auth=" || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("root: %q, CORS %q", body, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if _, body := get(base + "/a/b/?q=1"); body != "GET /a/b/?q=1 auth=" {
		t.Errorf("subpath: %q", body)
	}
	if resp, _ := get(base); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != base+"/" {
		t.Errorf(".../proxy: %d Location %q, want a redirect to .../proxy/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(base + "/moved"); resp.Header.Get("Location") != base+"/target" {
		t.Errorf("backend redirect Location %q, want %q", resp.Header.Get("Location"), base+"/target")
	}

	backend.Close()
	if resp, body := get(base + "/"); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "error trying to reach service") {
		t.Errorf("backend down: %d %q", resp.StatusCode, body)
	}
}
