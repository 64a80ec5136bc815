package fuzz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/svclab/svclab/apiserver-lite/apiservertest"
)

// maxBody is a little over the 3 MiB the API server accepts in one request body.
const maxBody = 3*1024*1024 + 1

// badRequest is one malformed request and the status code Kubernetes answers it with
// (0: any 4xx).
type badRequest struct {
	name        string
	method      string
	path        string
	contentType string
	body        []byte
	wantCode    int
}

func badRequests() []badRequest {
	const svcs = "/api/v1/namespaces/default/services"
	const json, yaml, pb = "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"
	svc := func(name string) string {
		return fmt.Sprintf(`{"apiVersion":"v1","kind":"Service","metadata":{"name":%q},"spec":{"ports":[{"port":80}]}}`, name)
	}
	huge := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"huge"},"data":{"k":"` + strings.Repeat("x", maxBody) + `"}}`
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	laughs := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		laughs += fmt.Sprintf("  %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	return []badRequest{
		{"malformed JSON", "POST", svcs, json, []byte(`{"apiVersion":"v1","kind":"Service",`), 400},
		{"JSON array", "POST", svcs, json, []byte(`[1,2,3]`), 400},
		{"JSON null", "POST", svcs, json, []byte(`null`), 0},
		{"no name", "POST", svcs, json, []byte(`{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":80}]}}`), 422},
		{"empty body", "POST", svcs, json, nil, 400},
		{"not UTF-8", "POST", svcs, json, []byte("\xff\xfe\xfd"), 400},
		{"deeply nested JSON", "POST", svcs, json, []byte(deep), 400},
		{"malformed YAML", "POST", svcs, yaml, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: [\n"), 400},
		{"YAML alias bomb", "POST", "/api/v1/namespaces/default/configmaps", yaml, []byte(laughs), 0},
		{"protobuf garbage", "POST", svcs, pb, []byte("k8s\x00\n\x0c\xff\xff\xff\xff\xff"), 400},
		{"wrong kind", "POST", svcs, json, []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}`), 400},
		{"wrong group", "POST", svcs, json, []byte(`{"apiVersion":"apps/v1","kind":"Service","metadata":{"name":"x"}}`), 400},
		{"unknown kind", "POST", svcs, json, []byte(`{"apiVersion":"v1","kind":"Potato","metadata":{"name":"x"}}`), 400},
		{"field type mismatch", "POST", svcs, json, []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{"ports":"80"}}`), 400},
		{"unknown field, strict", "POST", svcs + "?fieldValidation=Strict", json, []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{"ports":[{"port":80}],"bogus":1}}`), 400},
		{"body over 3 MiB", "POST", "/api/v1/namespaces/default/configmaps", json, []byte(huge), 413},
		{"invalid name", "POST", svcs, json, []byte(svc("Not_A_DNS_Label")), 422},
		{"name too long", "POST", svcs, json, []byte(svc(strings.Repeat("a", 300))), 422},
		{"name with slash", "POST", svcs, json, []byte(svc("a/b")), 422},
		{"invalid port", "POST", svcs, json, []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"badport"},"spec":{"ports":[{"port":0}]}}`), 422},
		{"namespace mismatch", "POST", svcs, json, []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"x","namespace":"other"},"spec":{"ports":[{"port":80}]}}`), 400},
		{"unsupported media type", "POST", svcs, "text/plain", []byte(svc("plain")), 415},
		{"malformed merge patch", "PATCH", svcs + "/kubernetes", "application/merge-patch+json", []byte(`{"spec":`), 400},
		{"malformed JSON patch", "PATCH", svcs + "/kubernetes", "application/json-patch+json", []byte(`[{"op":"explode"}]`), 0},
		{"bad label selector", "GET", svcs + "?labelSelector=a%20in%20(", "", nil, 400},
		{"bad field selector", "GET", svcs + "?fieldSelector=spec.nope%3Dx", "", nil, 400},
	}
}

// TestServerRejectsBadInput sends malformed requests to a running server: each must get a
// 4xx metav1.Status, and the server must keep answering afterwards.
func TestServerRejectsBadInput(t *testing.T) {
	srv := apiservertest.Start(t, apiservertest.Options{})
	httpClient, err := rest.HTTPClientFor(srv.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	httpClient.Timeout = 30 * time.Second
	for _, tc := range badRequests() {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, tc.method, srv.URL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.Header.Set("Accept", "application/json")
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			}
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			assertStatus(t, tc, resp.StatusCode, body)
			assertAlive(t, srv)
		})
	}
}

func assertStatus(t *testing.T, tc badRequest, code int, body []byte) {
	t.Helper()
	if code < 400 || code > 499 || (tc.wantCode != 0 && code != tc.wantCode) {
		want := "a 4xx"
		if tc.wantCode != 0 {
			want = fmt.Sprint(tc.wantCode)
		}
		t.Fatalf("HTTP %d, want %s; body: %.300s", code, want, body)
	}
	var status metav1.Status
	if err := json.Unmarshal(body, &status); err != nil {
		t.Fatalf("HTTP %d body is not a Status: %v; body: %.300s", code, err, body)
	}
	if status.Kind != "Status" || status.Status != metav1.StatusFailure || int(status.Code) != code {
		t.Fatalf("HTTP %d answered with kind=%q status=%q code=%d, want a Failure Status with code %d; body: %.300s",
			code, status.Kind, status.Status, status.Code, code, body)
	}
	if status.Message == "" || status.Reason == "" {
		t.Errorf("Status has no message or reason: %.300s", body)
	}
	t.Logf("HTTP %d %s: %.160s", code, status.Reason, status.Message)
}

// assertAlive checks that the server still serves reads after a bad request.
func assertAlive(t *testing.T, srv *apiservertest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := srv.Client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{}); err != nil {
		t.Fatalf("server stopped answering after the bad request: %v", err)
	}
}
