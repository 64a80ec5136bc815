package apiserver

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apiserver/pkg/registry/rest"
)

// The handlers here stand in for apimachinery's UpgradeAwareHandler, whose package needs a
// module svclab does not carry (github.com/mxk/go-flowrate); httputil.ReverseProxy already
// passes protocol upgrades (SPDY, WebSocket) through.

// upgradeProxy forwards an upgrade request (exec, attach, port-forward over SPDY) to loc,
// query included; other requests get upstream's 400 "Upgrade request required".
func upgradeProxy(loc *url.URL, transport http.RoundTripper, responder rest.Responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !httpstream.IsUpgradeRequest(req) {
			responder.Error(apierrors.NewBadRequest("Upgrade request required"))
			return
		}
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				u := *loc
				pr.Out.URL, pr.Out.Host = &u, u.Host
				pr.Out.Header.Del("Authorization")
			},
			Transport: transport,
			ErrorHandler: func(_ http.ResponseWriter, _ *http.Request, err error) {
				responder.Error(apierrors.NewServiceUnavailable(fmt.Sprintf("error dialing backend: %v", err)))
			},
		}
		rp.ServeHTTP(w, req)
	})
}

// httpProxy is pods/proxy and services/proxy: the request's query goes along, a trailing
// slash is kept, ".../proxy" redirects to ".../proxy/", absolute redirects of the backend
// are rewritten under the proxy path and CORS headers are dropped, as upstream does.
func httpProxy(loc *url.URL, transport http.RoundTripper, responder rest.Responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		target := *loc
		target.RawQuery = req.URL.RawQuery
		if !strings.HasSuffix(target.Path, "/") && strings.HasSuffix(req.URL.Path, "/") {
			target.Path += "/"
		}
		if target.Path == "" && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			to := req.URL.Path + "/"
			if req.URL.RawQuery != "" {
				to += "?" + req.URL.RawQuery
			}
			w.Header().Set("Location", to)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		prefix := strings.TrimSuffix(req.URL.Path, target.Path)
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				u := target
				pr.Out.URL, pr.Out.Host = &u, u.Host
				pr.Out.Header.Del("Authorization")
				pr.SetXForwarded()
			},
			Transport: transport,
			ModifyResponse: func(resp *http.Response) error {
				for k := range resp.Header {
					if strings.HasPrefix(k, "Access-Control-") {
						resp.Header.Del(k)
					}
				}
				if l := resp.Header.Get("Location"); l != "" {
					resp.Header.Set("Location", rewriteLocation(l, &target, prefix))
				}
				return nil
			},
			ErrorHandler: func(_ http.ResponseWriter, _ *http.Request, err error) {
				responder.Error(apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach service: %v", err)))
			},
		}
		rp.ServeHTTP(w, req)
	})
}

// rewriteLocation maps a backend redirect to the same place under the proxy path; redirects
// to other hosts are left alone.
func rewriteLocation(l string, backend *url.URL, prefix string) string {
	u, err := url.Parse(l)
	if err != nil || (u.Host != "" && u.Host != backend.Host) || (u.Host == "" && !strings.HasPrefix(u.Path, "/")) {
		return l
	}
	u.Scheme, u.Host = "", ""
	u.Path = strings.TrimSuffix(prefix, "/") + u.Path
	return u.String()
}
