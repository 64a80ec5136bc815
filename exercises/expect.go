package exercises

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/client-go/util/jsonpath"
)

// Expectation is one parsed object expectation: PATH OP [VALUE].
type Expectation struct {
	Source string // as written
	Path   string // JSONPath without braces ("spec.type")
	Op     string // == != > >= < <= =~ contains exists absent
	Value  string
}

var expectOps = []string{"==", "!=", ">=", "<=", "=~", ">", "<", " contains ", " exists", " absent"}

// ParseExpectation reads "spec.type == NodePort", "metadata.labels.app exists", ...
func ParseExpectation(s string) (Expectation, error) {
	src := strings.TrimSpace(s)
	best, at := "", -1
	for _, op := range expectOps {
		if i := strings.Index(src, op); i > 0 && (at < 0 || i < at) {
			best, at = op, i
		}
	}
	if at < 0 {
		return Expectation{}, fmt.Errorf("expectation %q: want PATH OP VALUE, OP one of == != > >= < <= =~ contains, or PATH exists / PATH absent", s)
	}
	e := Expectation{Source: src, Path: strings.TrimSpace(src[:at]), Op: strings.TrimSpace(best), Value: strings.TrimSpace(src[at+len(best):])}
	e.Value = unquote(e.Value)
	switch e.Op {
	case "exists", "absent":
		if e.Value != "" {
			return Expectation{}, fmt.Errorf("expectation %q: %s takes no value", s, e.Op)
		}
	case "=~":
		if _, err := regexp.Compile(e.Value); err != nil {
			return Expectation{}, fmt.Errorf("expectation %q: %w", s, err)
		}
	}
	if _, err := e.JSONPath(); err != nil {
		return Expectation{}, fmt.Errorf("expectation %q: path %q: %w", s, e.Path, err)
	}
	return e, nil
}

// JSONPath parses the path as kubectl's -o jsonpath would ({.spec.type}).
func (e Expectation) JSONPath() (*jsonpath.JSONPath, error) {
	jp := jsonpath.New("expect").AllowMissingKeys(true)
	p := strings.TrimPrefix(e.Path, ".")
	if err := jp.Parse("{." + p + "}"); err != nil {
		return nil, err
	}
	return jp, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}
