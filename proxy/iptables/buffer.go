package iptables

import "strings"

// lineBuffer collects restore lines (upstream's proxyutil.LineBuffer): each write is one
// line of space-separated words.
type lineBuffer struct {
	b     strings.Builder
	lines int
}

// write appends one line made of words and word slices.
func (l *lineBuffer) write(words ...any) {
	l.lines++
	first := true
	add := func(s string) {
		if !first {
			l.b.WriteByte(' ')
		}
		first = false
		l.b.WriteString(s)
	}
	for _, w := range words {
		switch w := w.(type) {
		case string:
			add(w)
		case []string:
			for _, s := range w {
				add(s)
			}
		default:
			panic("lineBuffer: unsupported word type")
		}
	}
	l.b.WriteByte('\n')
}

func (l *lineBuffer) String() string { return l.b.String() }

func chainLine(name string) string { return ":" + name + " - [0:0]" }
