package nftables

import (
	"bufio"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// liveRuleset is `nft list table ip kube-proxy` parsed just enough for the tracer.
type liveRuleset struct {
	chains map[string]*liveChain
	// baseChains in order of appearance; the tracer sorts them per hook by priority.
	baseChains []*liveChain
	sets       map[string][]liveElement
}

type liveChain struct {
	name     string
	hook     string
	priority int
	rules    []string
}

// liveElement is one set or map element: its key parts ("172.30.0.41", "tcp", "80")
// and, for maps, the verdict ("goto service-...", "drop").
type liveElement struct {
	key     []string
	verdict string
	comment string
}

// parseRuleset reads the text nft prints for `nft list table`.
func parseRuleset(text string) (*liveRuleset, error) {
	rs := &liveRuleset{chains: map[string]*liveChain{}, sets: map[string][]liveElement{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	var chain *liveChain
	var setName string
	var elems *strings.Builder // non-nil while reading "elements = { ... }"
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		switch {
		case elems != nil:
			elems.WriteString(" " + line)
			if strings.HasSuffix(line, "}") {
				rs.sets[setName] = parseElements(strings.TrimSuffix(elems.String(), "}"))
				elems = nil
			}
		case line == "" || strings.HasPrefix(line, "table ") || strings.HasPrefix(line, "#"):
		case line == "}":
			chain, setName = nil, ""
		case strings.HasPrefix(line, "chain ") && strings.HasSuffix(line, "{"):
			name := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "chain "), "{"))
			chain = &liveChain{name: name}
			rs.chains[name] = chain
		case (strings.HasPrefix(line, "set ") || strings.HasPrefix(line, "map ")) && strings.HasSuffix(line, "{"):
			setName = strings.TrimSpace(strings.TrimSuffix(line[4:], "{"))
			rs.sets[setName] = nil
		case setName != "":
			if rest, ok := strings.CutPrefix(line, "elements = {"); ok {
				elems = &strings.Builder{}
				elems.WriteString(rest)
				if strings.HasSuffix(rest, "}") {
					rs.sets[setName] = parseElements(strings.TrimSuffix(rest, "}"))
					elems = nil
				}
			}
		case chain != nil && strings.HasPrefix(line, "type ") && strings.Contains(line, " hook "):
			f := strings.Fields(strings.NewReplacer(";", " ").Replace(line))
			for i := 0; i+1 < len(f); i++ {
				if f[i] == "hook" {
					chain.hook = f[i+1]
				}
			}
			_, prio, _ := strings.Cut(line, " priority ")
			prio, _, _ = strings.Cut(prio, ";")
			p, err := parsePriority(prio)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
			chain.priority = p
			rs.baseChains = append(rs.baseChains, chain)
		case chain != nil && strings.HasPrefix(line, "comment ") && len(chain.rules) == 0:
		case chain != nil:
			chain.rules = append(chain.rules, line)
		case strings.HasPrefix(line, "comment "):
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", lineNo, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rs.chains) == 0 {
		return nil, fmt.Errorf("no chains: is this the output of `nft list table ip %s`?", TableName)
	}
	return rs, nil
}

// standardPriorities are nft's names for the ip family's hook priorities.
var standardPriorities = map[string]int{"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}

// parsePriority reads "-110", "dstnat", "dstnat - 10" or "dstnat+10".
func parsePriority(s string) (int, error) {
	s = strings.ReplaceAll(s, " ", "")
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	for name, base := range standardPriorities {
		if rest, ok := strings.CutPrefix(s, name); ok {
			if rest == "" {
				return base, nil
			}
			if n, err := strconv.Atoi(rest); err == nil {
				return base + n, nil
			}
		}
	}
	return 0, fmt.Errorf("unknown chain priority %q", s)
}

// parseElements splits "a . b comment \"x\" : drop, c . d : goto e" into elements.
func parseElements(s string) []liveElement {
	var out []liveElement
	for _, part := range splitTopLevel(s, ',') {
		toks := tokenize(part)
		if len(toks) == 0 {
			continue
		}
		var e liveElement
		var key []string
		i := 0
		for ; i < len(toks) && toks[i] != ":" && toks[i] != "timeout" && toks[i] != "expires" && toks[i] != "comment"; i++ {
			if toks[i] != "." {
				key = append(key, toks[i])
			}
		}
		for ; i < len(toks); i++ {
			switch toks[i] {
			case "comment":
				if i+1 < len(toks) {
					e.comment = strings.Trim(toks[i+1], `"`)
					i++
				}
			case ":":
				e.verdict = strings.Join(toks[i+1:], " ")
				i = len(toks)
			}
		}
		e.key = key
		out = append(out, e)
	}
	return out
}

// splitTopLevel splits s at sep outside quotes and braces.
func splitTopLevel(s string, sep byte) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '{':
			depth++
		case c == '}':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// tokenize splits a rule into words, keeping "quoted strings" and { braced groups } whole.
func tokenize(s string) []string {
	var out []string
	s = strings.TrimSpace(s)
	for len(s) > 0 {
		var tok string
		switch s[0] {
		case '"':
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				tok = s
			} else {
				tok = s[:end+2]
			}
		case '{':
			depth, end := 0, len(s)
			for i := 0; i < len(s); i++ {
				if s[i] == '{' {
					depth++
				} else if s[i] == '}' {
					depth--
					if depth == 0 {
						end = i + 1
						break
					}
				}
			}
			tok = s[:end]
		default:
			end := strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
			tok = s[:end]
		}
		out = append(out, tok)
		s = strings.TrimSpace(s[len(tok):])
	}
	return out
}

// baseChainsFor returns the base chains on hook in the order the kernel runs them.
func (rs *liveRuleset) baseChainsFor(hook string) []*liveChain {
	var out []*liveChain
	for _, c := range rs.baseChains {
		if c.hook == hook {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].priority < out[j].priority })
	return out
}
