package iptables

import (
	"fmt"
	"strings"
)

// Table is one table of iptables-save output.
type Table struct {
	Name string
	// Chains in the order iptables-save lists them.
	Chains []*Chain
	chains map[string]*Chain
}

// Chain is one chain with its policy ("-" for user chains) and rules.
type Chain struct {
	Name   string
	Policy string
	Rules  []*Rule
}

// Rule is one "-A CHAIN ..." line.
type Rule struct {
	Chain string
	// Raw is the line as iptables-save printed it.
	Raw string
	// Args are the words after "-A CHAIN", with quotes removed (what `iptables -A` takes).
	Args []string
}

// Chain returns the named chain or nil.
func (t *Table) Chain(name string) *Chain {
	if t == nil {
		return nil
	}
	return t.chains[name]
}

// ParseSave parses iptables-save output (any number of tables) into tables by name.
func ParseSave(save string) (map[string]*Table, error) {
	tables := map[string]*Table{}
	var cur *Table
	for i, line := range strings.Split(save, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			cur = &Table{Name: line[1:], chains: map[string]*Chain{}}
			tables[cur.Name] = cur
		case line == "COMMIT":
			cur = nil
		case cur == nil:
			return nil, fmt.Errorf("parse iptables-save line %d: outside a table: %q", i+1, line)
		case strings.HasPrefix(line, ":"):
			f := strings.Fields(line[1:])
			c := &Chain{Name: f[0], Policy: "-"}
			if len(f) > 1 {
				c.Policy = f[1]
			}
			if _, ok := cur.chains[c.Name]; !ok {
				cur.Chains = append(cur.Chains, c)
			}
			cur.chains[c.Name] = c
		case strings.HasPrefix(line, "-A "):
			words, err := splitWords(line)
			if err != nil {
				return nil, fmt.Errorf("parse iptables-save line %d: %w", i+1, err)
			}
			if len(words) < 2 {
				return nil, fmt.Errorf("parse iptables-save line %d: no chain: %q", i+1, line)
			}
			c := cur.chains[words[1]]
			if c == nil {
				return nil, fmt.Errorf("parse iptables-save line %d: chain %s is not declared", i+1, words[1])
			}
			c.Rules = append(c.Rules, &Rule{Chain: c.Name, Raw: line, Args: words[2:]})
		default:
			// "-X", "-F", "-N" lines appear in restore input, not in save output; keep going
			// so a restore payload can be parsed too.
		}
	}
	return tables, nil
}

// splitWords splits a rule line like a shell would for iptables-save output: words are
// separated by spaces, double quotes group, backslash escapes inside quotes.
func splitWords(line string) ([]string, error) {
	var words []string
	var b strings.Builder
	inWord, inQuote := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(line):
			i++
			b.WriteByte(line[i])
		case c == '"':
			inQuote = !inQuote
			inWord = true
		case c == ' ' && !inQuote:
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, b.String())
	}
	return words, nil
}
