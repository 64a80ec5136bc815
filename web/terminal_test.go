package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// readUntil reads terminal output until it contains want.
func readUntil(t *testing.T, conn *websocket.Conn, want string) string {
	t.Helper()
	var out strings.Builder
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !strings.Contains(out.String(), want) {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v; output so far:\n%s", err, out.String())
		}
		out.Write(data)
	}
	return out.String()
}

func TestTerminalRunsAShellOnAPty(t *testing.T) {
	env := newTestEnv(t)
	var started *exec.Cmd
	env.srv.opts.Shell = func(ctx context.Context, node string) (*exec.Cmd, error) {
		started = exec.CommandContext(ctx, "sh")
		started.Env = terminalEnv("", node)
		return started, nil
	}
	ts := httptest.NewServer(env.srv.Handler())
	defer ts.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/api/terminal?node=lab-worker"

	// A foreign Origin is refused before the upgrade.
	_, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"http://evil.example"}, "Authorization": {"Bearer " + testToken}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin upgrade: err %v, resp %v; want 403", err, resp)
	}

	conn, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {ts.URL}, "Authorization": {"Bearer " + testToken}})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.WriteJSON(TerminalMessage{Type: "resize", Cols: 100, Rows: 30}); err != nil {
		t.Fatal(err)
	}
	if err := conn.WriteJSON(TerminalMessage{Type: "input", Data: "echo te$((1+1))st $TERM; stty size\n"}); err != nil {
		t.Fatal(err)
	}
	out := readUntil(t, conn, "30 100")
	if !strings.Contains(out, "te2st xterm-256color") {
		t.Errorf("output lacks the command's output:\n%s", out)
	}
	conn.Close()
	// Closing the socket kills the shell.
	deadline := time.Now().Add(10 * time.Second)
	for started.Process.Signal(syscall.Signal(0)) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if started.Process.Signal(syscall.Signal(0)) == nil {
		t.Error("the shell still runs after the socket closed")
	}
}
