package web

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Files in a lab's state directory (/run/svclab/<lab>/) that let `svclab status` print
// the UI's URL: the token and the address the lab process serves the UI on.
const (
	TokenFile = "web-token"
	AddrFile  = "web-addr"
)

// WriteAccess records the UI's address and token in labDir (both files 0600: the token
// opens a shell on the nodes).
func WriteAccess(labDir, addr, token string) error {
	if err := os.WriteFile(filepath.Join(labDir, TokenFile), []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the web UI token: %w", err)
	}
	if err := os.WriteFile(filepath.Join(labDir, AddrFile), []byte(addr+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the web UI address: %w", err)
	}
	return nil
}

// ReadURL returns the UI's URL with its token, as WriteAccess recorded them; an error
// when the lab serves no UI (--web=off) or is not running.
func ReadURL(labDir string) (string, error) {
	token, err := os.ReadFile(filepath.Join(labDir, TokenFile))
	if err != nil {
		return "", err
	}
	addr, err := os.ReadFile(filepath.Join(labDir, AddrFile))
	if err != nil {
		return "", err
	}
	return URL(strings.TrimSpace(string(addr)), strings.TrimSpace(string(token))), nil
}
