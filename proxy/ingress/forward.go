package ingress

import (
	"bufio"
	"net"
	"net/http"
	"strings"
)

// forward writes the upstream request of a bodiless request straight from the client's
// request, as nginx's proxy_pass does, instead of cloning it (URL, header map, context) for
// httputil.ReverseProxy and serializing the clone: the headers are the client's minus the
// hop-by-hop ones and the forwarding headers a client may not set, plus X-Forwarded-For
// (appended to), X-Forwarded-Host, X-Forwarded-Proto and X-Request-Id — the same request the
// ReverseProxy path sends (see rewrite).
type forward struct {
	in *http.Request
	id string // X-Request-ID
}

// skipRequestHeader lists the client headers not forwarded as they are: hop-by-hop headers
// (RFC 9110 7.6.1 and the ones httputil.ReverseProxy drops), the framing headers of a
// bodiless request, and the headers the proxy sets itself.
var skipRequestHeader = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Host": true, "Content-Length": true,
	"Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true,
	"X-Request-Id": true,
}

// write writes the request head; addr is the endpoint (the Host of a request without one).
func (f *forward) write(bw *bufio.Writer, addr string) error {
	in := f.in
	bw.WriteString(in.Method)
	bw.WriteByte(' ')
	if uri := in.RequestURI; uri != "" && uri[0] == '/' {
		bw.WriteString(uri) // origin-form, passed on unchanged as nginx does
	} else {
		bw.WriteString(in.URL.RequestURI()) // absolute-form: the path and query
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	host := in.Host
	if host == "" {
		host = addr
	}
	writeValue(bw, host)
	bw.WriteString("\r\n")
	conn := in.Header["Connection"]
	for k, vv := range in.Header {
		if skipRequestHeader[k] || (len(conn) > 0 && listedIn(conn, k)) {
			continue
		}
		for _, v := range vv {
			if v == "" && k == "User-Agent" {
				continue // as http.Request.Write: no User-Agent line for an empty one
			}
			writeHeader(bw, k, v)
		}
	}
	if headerHasToken(in.Header["Te"], "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		bw.WriteString("X-Forwarded-For: ")
		for _, v := range in.Header["X-Forwarded-For"] {
			writeValue(bw, v)
			bw.WriteString(", ")
		}
		bw.WriteString(ip)
		bw.WriteString("\r\n")
	}
	writeHeader(bw, "X-Forwarded-Host", in.Host)
	if in.TLS == nil {
		bw.WriteString("X-Forwarded-Proto: http\r\n")
	} else {
		bw.WriteString("X-Forwarded-Proto: https\r\n")
	}
	if f.id != "" {
		writeHeader(bw, "X-Request-Id", f.id)
	}
	_, err := bw.WriteString("\r\n")
	return err
}

func writeHeader(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	writeValue(bw, v)
	bw.WriteString("\r\n")
}

// writeValue writes a header value with CR and LF turned into spaces and the surrounding
// white space trimmed, as http.Header.Write does.
func writeValue(bw *bufio.Writer, v string) {
	v = strings.TrimSpace(v)
	if strings.IndexByte(v, '\r') < 0 && strings.IndexByte(v, '\n') < 0 {
		bw.WriteString(v)
		return
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' {
			bw.WriteByte(' ')
		} else {
			bw.WriteByte(c)
		}
	}
}

// listedIn reports whether the Connection header values conn name the header k.
func listedIn(conn []string, k string) bool { return headerHasToken(conn, k) }

// headerHasToken reports whether the comma-separated values hold token (case-insensitive).
func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// removeHopByHop deletes a response's hop-by-hop headers, those its Connection header
// names included, as httputil.ReverseProxy does.
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if t = strings.TrimSpace(t); t != "" {
				h.Del(t)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// cleanQuery reports whether httputil.ReverseProxy would pass the query on unchanged: no
// ';', only well-formed escapes, not too many parameters. Others take the ReverseProxy path,
// which re-encodes them.
func cleanQuery(s string) bool {
	if strings.Count(s, "&") >= 10000 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
