package ingress

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// fastPath reports whether r is proxied by serveFast: a request the upstream client
// handles (bodiless GET, HEAD, OPTIONS without Upgrade or Expect) whose query
// httputil.ReverseProxy would not re-encode.
func (h *Handler) fastPath(r *http.Request) bool {
	return h.fast.handles(r) && (r.URL.RawQuery == "" || cleanQuery(r.URL.RawQuery))
}

// serveFast proxies r through the upstream client without httputil.ReverseProxy: the
// request is written from the client's (see forward), the response headers are moved into
// w's instead of copied, and the body is copied through a pooled buffer, flushed per write
// when it is streamed (no Content-Length, or text/event-stream) as ReverseProxy does. The
// endpoints are tried in turn on connection failures, as the balancer does. at is the time
// the request arrived.
func (h *Handler) serveFast(w *recorder, r *http.Request, p *pick, at time.Time) {
	fwd := forward{in: r, id: p.id}
	n := len(p.endpoints)
	var res *http.Response
	var err error
	now := at
	for i := 0; i < n && i < maxTries; i++ {
		ep := p.endpoints[(p.start+uint64(i))%uint64(n)]
		p.upstream, p.tries = ep, i+1
		res, err = h.fast.do(r, ep, &fwd, now)
		end := time.Now()
		p.latency = end.Sub(now)
		if err == nil || !dialFailed(err) || r.Context().Err() != nil {
			break
		}
		now = end
	}
	if err != nil {
		h.proxyError(w, r, err)
		return
	}
	writeResponse(w, res)
}

// writeResponse sends the upstream response res to w, as httputil.ReverseProxy does.
func writeResponse(w *recorder, res *http.Response) {
	removeHopByHop(res.Header)
	dst := w.Header()
	for k, vv := range res.Header {
		if prev, ok := dst[k]; ok {
			dst[k] = append(prev, vv...)
		} else {
			dst[k] = vv // res.Header is ours: its values move over
		}
	}
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		dst.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	if res.Body != http.NoBody {
		if err := copyBody(w, res, streamed(res)); err != nil {
			_ = res.Body.Close()
			// The client gets a truncated response: abort the connection so it knows.
			panic(http.ErrAbortHandler)
		}
	}
	_ = res.Body.Close()
	if len(res.Trailer) > 0 {
		_ = http.NewResponseController(w).Flush() // chunked, so the trailers can follow
	}
	late := len(res.Trailer) != announced // trailers not announced need the prefix
	for k, vv := range res.Trailer {
		if late {
			k = http.TrailerPrefix + k
		}
		dst[k] = append(dst[k], vv...)
	}
}

// streamed reports whether a response is flushed to the client after every write, as
// httputil.ReverseProxy does for server-sent events and bodies of unknown length.
func streamed(res *http.Response) bool {
	if res.ContentLength == -1 {
		return true
	}
	const sse = "text/event-stream"
	ct := strings.TrimSpace(res.Header.Get("Content-Type"))
	if len(ct) < len(sse) || !strings.EqualFold(ct[:len(sse)], sse) {
		return false
	}
	rest := strings.TrimSpace(ct[len(sse):])
	return rest == "" || rest[0] == ';'
}

// copyBody copies the response body to w through a pooled buffer.
func copyBody(w *recorder, res *http.Response, flush bool) error {
	buf := copyBuffers.Get().(*[copyBufferSize]byte)
	defer copyBuffers.Put(buf)
	for {
		n, rerr := res.Body.Read(buf[:])
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if flush {
				_ = http.NewResponseController(w.ResponseWriter).Flush()
			}
		}
		switch {
		case rerr == nil:
		case rerr == io.EOF:
			return nil
		default:
			return rerr
		}
	}
}
