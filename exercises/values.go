package exercises

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Count is a number expectation: "3" (exactly), ">= 2", "> 0", "<= 1", "< 4", "!= 0".
// The zero Count (not written) expects nothing.
type Count struct {
	Op string // "", "==", "!=", ">", ">=", "<", "<="
	N  int
}

// IsSet reports whether the Count was written.
func (c Count) IsSet() bool { return c.Op != "" }

// Match reports whether n satisfies the Count (an unset Count matches anything).
func (c Count) Match(n int) bool {
	switch c.Op {
	case "":
		return true
	case "==":
		return n == c.N
	case "!=":
		return n != c.N
	case ">":
		return n > c.N
	case ">=":
		return n >= c.N
	case "<":
		return n < c.N
	case "<=":
		return n <= c.N
	}
	return false
}

// String renders the Count as written ("== 3" for a bare number).
func (c Count) String() string { return fmt.Sprintf("%s %d", c.Op, c.N) }

// ParseCount reads "3" or "OP N".
func ParseCount(s string) (Count, error) {
	s = strings.TrimSpace(s)
	for _, op := range []string{">=", "<=", "!=", "==", ">", "<"} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				return Count{}, fmt.Errorf("count %q: want N or OP N with OP one of == != > >= < <=", s)
			}
			return Count{Op: op, N: n}, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return Count{}, fmt.Errorf("count %q: want N or OP N with OP one of == != > >= < <=", s)
	}
	return Count{Op: "==", N: n}, nil
}

// UnmarshalYAML reads a Count from a scalar.
func (c *Count) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a count is a number or a string like \">= 2\"", n.Line)
	}
	v, err := ParseCount(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*c = v
	return nil
}

// UnmarshalYAML reads a Duration such as "5s" or "1m30s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: duration %q: write it like 5s, 500ms or 1m", n.Line, n.Value)
	}
	d.Duration = v
	return nil
}

// MarshalText writes a Duration as "5s" (JSON reports).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
