// Package ipttest is a recording fake of ipt.Interface that also applies what it is given,
// so tests can assert both on each restore payload and on the resulting tables.
package ipttest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/svclab/svclab/proxy/ipt"
)

// Fake records every call and keeps tables in memory with iptables-restore --noflush
// semantics: a chain declared with ":NAME" is created or flushed, "-A" appends, "-X"
// deletes, other chains are kept.
type Fake struct {
	mu sync.Mutex
	// Restores holds every Restore payload in order.
	Restores []string
	// Calls logs EnsureRule/DeleteRule calls as "ensure nat PREROUTING -m ...".
	Calls []string
	// Err, if set, fails the next Restore (and is then cleared).
	Err    error
	tables map[string]*table
}

type table struct {
	order  []string
	chains map[string][]string
}

var _ ipt.Interface = (*Fake)(nil)

// builtin chains per table, in iptables-save order.
var builtin = map[string][]string{
	"filter": {"INPUT", "FORWARD", "OUTPUT"},
	"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	"mangle": {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"},
	"raw":    {"PREROUTING", "OUTPUT"},
}

// New returns an empty Fake (built-in chains only).
func New() *Fake { return &Fake{tables: map[string]*table{}} }

func (f *Fake) table(name string) *table {
	t := f.tables[name]
	if t == nil {
		t = &table{chains: map[string][]string{}}
		for _, c := range builtin[name] {
			t.order = append(t.order, c)
			t.chains[c] = nil
		}
		f.tables[name] = t
	}
	return t
}

// Restore implements ipt.Interface.
func (f *Fake) Restore(_ context.Context, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Restores = append(f.Restores, string(data))
	if err := f.Err; err != nil {
		f.Err = nil
		return err
	}
	// Validate and apply on a copy so a bad payload changes nothing, like the real tool.
	staged := map[string]*table{}
	var cur *table
	var curName string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			curName = line[1:]
			cur = clone(f.table(curName))
			staged[curName] = cur
		case line == "COMMIT":
			cur = nil
		case cur == nil:
			return fmt.Errorf("iptables-restore: line %d failed: outside a table: %s", i+1, line)
		case strings.HasPrefix(line, ":"):
			name := strings.Fields(line[1:])[0]
			if _, ok := cur.chains[name]; !ok {
				cur.order = append(cur.order, name)
			}
			cur.chains[name] = nil
		case strings.HasPrefix(line, "-A "), strings.HasPrefix(line, "-I "):
			fields := strings.Fields(line)
			if len(fields) < 2 {
				return fmt.Errorf("iptables-restore: line %d failed: %s", i+1, line)
			}
			if _, ok := cur.chains[fields[1]]; !ok {
				return fmt.Errorf("iptables-restore: line %d failed: chain %s does not exist in %s", i+1, fields[1], curName)
			}
			if j := jumpTarget(fields); j != "" && !isTarget(j) {
				if _, ok := cur.chains[j]; !ok {
					return fmt.Errorf("iptables-restore: line %d failed: jump to undefined chain %s", i+1, j)
				}
			}
			rule := strings.Join(fields[2:], " ")
			if fields[0] == "-I" {
				cur.chains[fields[1]] = append([]string{rule}, cur.chains[fields[1]]...)
			} else {
				cur.chains[fields[1]] = append(cur.chains[fields[1]], rule)
			}
		case strings.HasPrefix(line, "-X "):
			name := strings.Fields(line)[1]
			if slices.Contains(builtin[curName], name) {
				return fmt.Errorf("iptables-restore: line %d failed: cannot delete built-in chain %s", i+1, name)
			}
			delete(cur.chains, name)
			cur.order = slices.DeleteFunc(cur.order, func(c string) bool { return c == name })
		default:
			return fmt.Errorf("iptables-restore: line %d failed: %s", i+1, line)
		}
	}
	if cur != nil {
		return fmt.Errorf("iptables-restore: COMMIT expected at end of %s", curName)
	}
	for name, t := range staged {
		f.tables[name] = t
	}
	return nil
}

func clone(t *table) *table {
	c := &table{order: slices.Clone(t.order), chains: map[string][]string{}}
	for k, v := range t.chains {
		c.chains[k] = slices.Clone(v)
	}
	return c
}

func jumpTarget(fields []string) string {
	for i, f := range fields {
		if (f == "-j" || f == "-g") && i+1 < len(fields) {
			return fields[i+1]
		}
	}
	return ""
}

func isTarget(name string) bool {
	switch name {
	case "ACCEPT", "DROP", "RETURN", "REJECT", "DNAT", "SNAT", "MASQUERADE", "MARK", "REDIRECT", "LOG", "CONNMARK", "NOTRACK", "CT":
		return true
	}
	return false
}

// Save implements ipt.Interface, in iptables-save format (without counters or comments
// about the generator).
func (f *Fake) Save(_ context.Context, tableName string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	if tableName != "" {
		names = []string{tableName}
	} else {
		for n := range f.tables {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	var b strings.Builder
	for _, n := range names {
		t := f.table(n)
		fmt.Fprintf(&b, "*%s\n", n)
		for _, c := range t.order {
			policy := "-"
			if slices.Contains(builtin[n], c) {
				policy = "ACCEPT"
			}
			fmt.Fprintf(&b, ":%s %s [0:0]\n", c, policy)
		}
		for _, c := range t.order {
			for _, r := range t.chains[c] {
				fmt.Fprintf(&b, "-A %s %s\n", c, r)
			}
		}
		b.WriteString("COMMIT\n")
	}
	return []byte(b.String()), nil
}

// EnsureRule implements ipt.Interface.
func (f *Fake) EnsureRule(_ context.Context, tableName, chain string, rule ...string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, fmt.Sprintf("ensure %s %s %s", tableName, chain, strings.Join(rule, " ")))
	t := f.table(tableName)
	if _, ok := t.chains[chain]; !ok {
		return false, fmt.Errorf("iptables: chain %s does not exist in %s", chain, tableName)
	}
	r := strings.Join(rule, " ")
	if slices.Contains(t.chains[chain], r) {
		return true, nil
	}
	t.chains[chain] = append([]string{r}, t.chains[chain]...)
	return false, nil
}

// DeleteRule implements ipt.Interface.
func (f *Fake) DeleteRule(_ context.Context, tableName, chain string, rule ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, fmt.Sprintf("delete %s %s %s", tableName, chain, strings.Join(rule, " ")))
	t := f.table(tableName)
	r := strings.Join(rule, " ")
	t.chains[chain] = slices.DeleteFunc(t.chains[chain], func(x string) bool { return x == r })
	return nil
}

// LastRestore returns the last Restore payload ("" if none).
func (f *Fake) LastRestore() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.Restores) == 0 {
		return ""
	}
	return f.Restores[len(f.Restores)-1]
}
