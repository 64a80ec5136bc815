package web

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/creack/pty"
	"github.com/gorilla/websocket"
)

// ShellFunc returns the command a terminal on node runs (not started yet).
type ShellFunc func(ctx context.Context, node string) (*exec.Cmd, error)

// NetNSShell starts `ip netns exec svclab-<lab>-<node> bash -l`-like shells: bash in the
// node's namespace with KUBECONFIG set to the lab's, the svclab binary's directory on
// PATH and TERM=xterm-256color.
func NetNSShell(lab, kubeconfig string) ShellFunc {
	return func(ctx context.Context, node string) (*exec.Cmd, error) {
		ns, err := nodeNetNS(lab, node)
		if err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "bash", "-i")
		cmd.Env = terminalEnv(kubeconfig, node)
		cmd.Dir = "/root"
		if _, err := os.Stat(cmd.Dir); err != nil {
			cmd.Dir = "/"
		}
		return cmd, nil
	}
}

func terminalEnv(kubeconfig, node string) []string {
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	if self, err := os.Executable(); err == nil {
		path = filepath.Dir(self) + ":" + path
	}
	env := []string{"PATH=" + path, "TERM=xterm-256color", "HOME=/root", "LANG=C.UTF-8",
		"PS1=" + node + ":\\w# ", "SVCLAB_NODE=" + node}
	if kubeconfig != "" {
		env = append(env, "KUBECONFIG="+kubeconfig)
	}
	return env
}

// TerminalMessage is what the browser sends on the terminal WebSocket (text frames):
// {"type":"input","data":"ls\r"} or {"type":"resize","cols":120,"rows":40}. The server
// sends the terminal's output as binary frames.
type TerminalMessage struct {
	Type string `json:"type"`
	Data string `json:"data,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
}

// terminal is GET /api/terminal?node=NODE: a WebSocket to a shell in the node on a pty.
// The shell is killed when the socket closes.
func (s *Server) terminal(w http.ResponseWriter, r *http.Request) {
	node := r.URL.Query().Get("node")
	if !nodeNameRE.MatchString(node) {
		writeError(w, http.StatusBadRequest, "node is required: /api/terminal?node=NODE")
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	cmd, err := s.opts.Shell(ctx, node)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	// authed has already checked the Origin of the upgrade request.
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		_ = conn.WriteMessage(websocket.TextMessage, []byte("cannot start a shell: "+err.Error()))
		return
	}
	log := s.log.With("node", node)
	log.Debug("terminal opened")
	var wmu sync.Mutex
	done := make(chan struct{})
	go func() { // pty -> socket
		defer close(done)
		buf := make([]byte, 32*1024)
		for {
			n, err := tty.Read(buf)
			if n > 0 {
				wmu.Lock()
				werr := conn.WriteMessage(websocket.BinaryMessage, buf[:n])
				wmu.Unlock()
				if werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // socket -> pty
		for {
			kind, data, err := conn.ReadMessage()
			if err != nil {
				cancel()
				return
			}
			if kind == websocket.BinaryMessage {
				_, _ = tty.Write(data)
				continue
			}
			var m TerminalMessage
			if json.Unmarshal(data, &m) != nil {
				continue
			}
			switch m.Type {
			case "input":
				_, _ = tty.Write([]byte(m.Data))
			case "resize":
				if m.Cols > 0 && m.Rows > 0 {
					_ = pty.Setsize(tty, &pty.Winsize{Cols: m.Cols, Rows: m.Rows})
				}
			}
		}
	}()
	select {
	case <-done: // the shell exited (or closed its terminal)
	case <-ctx.Done(): // the socket closed: CommandContext kills the shell
	}
	cancel()
	_ = cmd.Wait()
	tty.Close()
	wmu.Lock()
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "shell exited"), time.Now().Add(time.Second))
	wmu.Unlock()
	log.Debug("terminal closed")
}
