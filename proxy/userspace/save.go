package userspace

import (
	"strings"
)

// saved is iptables-save output parsed into tables, chains and rules.
type saved struct {
	tables map[string]*savedTable
}

type savedTable struct {
	order []string // chains in declaration order
	rules map[string][]savedRule
}

// savedRule is one "-A CHAIN ..." line: its text after the chain name and its arguments
// with quotes removed (as they would be passed to iptables).
type savedRule struct {
	text string
	args []string
}

// target is the rule's -j/-g target ("" when none).
func (r savedRule) target() string {
	for i, a := range r.args {
		if (a == "-j" || a == "-g") && i+1 < len(r.args) {
			return r.args[i+1]
		}
	}
	return ""
}

// parseSave reads iptables-save text; lines it does not understand are skipped.
func parseSave(text string) saved {
	s := saved{tables: map[string]*savedTable{}}
	var cur *savedTable
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "*"):
			name := line[1:]
			cur = s.tables[name]
			if cur == nil {
				cur = &savedTable{rules: map[string][]savedRule{}}
				s.tables[name] = cur
			}
		case cur == nil:
		case strings.HasPrefix(line, ":"):
			if f := strings.Fields(line[1:]); len(f) > 0 {
				cur.order = append(cur.order, f[0])
			}
		case strings.HasPrefix(line, "-A "):
			args := splitArgs(line)
			if len(args) < 2 {
				continue
			}
			chain := args[1]
			text := strings.TrimSpace(strings.TrimPrefix(line[3:], chain))
			cur.rules[chain] = append(cur.rules[chain], savedRule{text: text, args: args[2:]})
		}
	}
	return s
}

// splitArgs splits a rule line like a shell would for iptables-save output: on spaces,
// with double-quoted strings (and their \" and \\ escapes) kept whole.
func splitArgs(line string) []string {
	var args []string
	var b strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(line):
			i++
			b.WriteByte(line[i])
		case c == '"':
			inQuote, have = !inQuote, true
		case !inQuote && (c == ' ' || c == '\t'):
			if have {
				args = append(args, b.String())
				b.Reset()
				have = false
			}
		default:
			b.WriteByte(c)
			have = true
		}
	}
	if have {
		args = append(args, b.String())
	}
	return args
}
