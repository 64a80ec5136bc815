package exercises

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// Catalog is a set of exercises, sorted by Order then ID.
type Catalog struct {
	Exercises []*Exercise
}

// Get returns the exercise with that ID, or nil.
func (c *Catalog) Get(id string) *Exercise {
	for _, e := range c.Exercises {
		if e.ID == id {
			return e
		}
	}
	return nil
}

// IDs lists the exercise IDs in order.
func (c *Catalog) IDs() []string {
	ids := make([]string, len(c.Exercises))
	for i, e := range c.Exercises {
		ids[i] = e.ID
	}
	return ids
}

// Builtin loads the catalogue embedded in the binary.
func Builtin() (*Catalog, error) { return LoadFS(embedded, ".", "exercises") }

// LoadDir loads every exercise folder (a folder with an exercise.yaml) under dir.
func LoadDir(dir string) (*Catalog, error) { return LoadFS(os.DirFS(dir), ".", dir) }

// Load returns the built-in catalogue, with the exercises of dir (when not empty) added;
// an exercise of dir replaces a built-in one with the same ID.
func Load(dir string) (*Catalog, error) {
	c, err := Builtin()
	if err != nil || dir == "" {
		return c, err
	}
	extra, err := LoadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range extra.Exercises {
		if i := slices.IndexFunc(c.Exercises, func(b *Exercise) bool { return b.ID == e.ID }); i >= 0 {
			c.Exercises[i] = e
		} else {
			c.Exercises = append(c.Exercises, e)
		}
	}
	sortCatalog(c)
	return c, checkPrerequisites(c, dir)
}

// LoadFS loads the exercise folders directly under root in fsys; display prefixes file
// names in error messages (the directory the user named).
func LoadFS(fsys fs.FS, root, display string) (*Catalog, error) {
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return nil, fmt.Errorf("exercises: %w", err)
	}
	c := &Catalog{}
	var errs []error
	for _, de := range entries {
		if !de.IsDir() {
			continue
		}
		dir := path.Join(root, de.Name())
		if _, err := fs.Stat(fsys, path.Join(dir, "exercise.yaml")); err != nil {
			continue // not an exercise (e.g. a Go package of the grader)
		}
		l := &loader{fsys: fsys, dir: dir, display: path.Join(display, de.Name())}
		e := l.load(de.Name())
		errs = append(errs, l.errs...)
		if len(l.errs) == 0 {
			c.Exercises = append(c.Exercises, e)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sortCatalog(c)
	return c, checkPrerequisites(c, display)
}

func sortCatalog(c *Catalog) {
	sort.SliceStable(c.Exercises, func(i, j int) bool {
		a, b := c.Exercises[i], c.Exercises[j]
		if a.Order != b.Order {
			return a.Order < b.Order
		}
		return a.ID < b.ID
	})
}

func checkPrerequisites(c *Catalog, display string) error {
	var errs []error
	for _, e := range c.Exercises {
		for _, p := range e.Prerequisites {
			if c.Get(p) == nil {
				errs = append(errs, fmt.Errorf("%s: prerequisite %q is not an exercise (have: %s)", path.Join(display, e.ID, "exercise.yaml"), p, strings.Join(c.IDs(), ", ")))
			}
		}
	}
	return errors.Join(errs...)
}

// LoadError is a problem in an exercise file, with its position.
type LoadError struct {
	File string
	Line int
	Msg  string
}

func (e *LoadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

type loader struct {
	fsys    fs.FS
	dir     string
	display string
	errs    []error
}

func (l *loader) errorf(file string, line int, format string, args ...any) {
	l.errs = append(l.errs, &LoadError{File: path.Join(l.display, file), Line: line, Msg: fmt.Sprintf(format, args...)})
}

// metaFile is exercise.yaml.
type metaFile struct {
	Title         string     `yaml:"title"`
	Summary       string     `yaml:"summary"`
	Order         int        `yaml:"order"`
	Minutes       int        `yaml:"minutes"`
	Prerequisites []string   `yaml:"prerequisites"`
	Topics        []string   `yaml:"topics"`
	Namespace     string     `yaml:"namespace"`
	Steps         []metaStep `yaml:"steps"`
}

type metaStep struct {
	ID        string `yaml:"id"`
	Title     string `yaml:"title"`
	File      string `yaml:"file"`
	Transient bool   `yaml:"transient"`
}

var (
	idRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	lineRE  = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	stepIDs = "lower-case letters, digits and '-'"
)

// decodeStrict decodes YAML refusing unknown fields; errors become LoadErrors with lines.
func (l *loader) decodeStrict(file string, data []byte, v any) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				l.yamlErr(file, msg)
			}
			return false
		}
		l.yamlErr(file, err.Error())
		return false
	}
	return true
}

func (l *loader) yamlErr(file, msg string) {
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		l.errorf(file, n, "%s", m[2])
		return
	}
	l.errorf(file, 0, "%s", msg)
}

func (l *loader) read(file string) ([]byte, bool) {
	data, err := fs.ReadFile(l.fsys, path.Join(l.dir, file))
	if err != nil {
		l.errorf(file, 0, "cannot read: %v", errors.Unwrap(err))
		return nil, false
	}
	return data, true
}

func (l *loader) load(id string) *Exercise {
	e := &Exercise{ID: id, Dir: l.dir, FS: l.fsys}
	if !idRE.MatchString(id) {
		l.errorf("", 0, "folder name %q is the exercise ID: use %s", id, stepIDs)
	}
	data, ok := l.read("exercise.yaml")
	if !ok {
		return e
	}
	var m metaFile
	if !l.decodeStrict("exercise.yaml", data, &m) {
		return e
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	lineOf := func(key string) int { return keyLine(&root, key) }
	e.Title, e.Summary, e.Order, e.Minutes = m.Title, m.Summary, m.Order, m.Minutes
	e.Prerequisites, e.Topics, e.Namespace = m.Prerequisites, m.Topics, m.Namespace
	if strings.TrimSpace(m.Title) == "" {
		l.errorf("exercise.yaml", 0, "title is required")
	}
	if strings.TrimSpace(m.Summary) == "" {
		l.errorf("exercise.yaml", 0, "summary is required")
	}
	if m.Minutes < 0 {
		l.errorf("exercise.yaml", lineOf("minutes"), "minutes must not be negative")
	}
	if !idRE.MatchString(m.Namespace) || len(m.Namespace) > 63 {
		l.errorf("exercise.yaml", lineOf("namespace"), "namespace %q must be a DNS label (%s, at most 63): the exercise's objects live there", m.Namespace, stepIDs)
	}
	if len(m.Steps) == 0 {
		l.errorf("exercise.yaml", 0, "steps: an exercise needs at least one step")
	}
	seen := map[string]bool{}
	for i, s := range m.Steps {
		line := seqItemLine(&root, "steps", i)
		if !idRE.MatchString(s.ID) {
			l.errorf("exercise.yaml", line, "step id %q: use %s", s.ID, stepIDs)
		} else if seen[s.ID] {
			l.errorf("exercise.yaml", line, "step id %q is used twice", s.ID)
		}
		seen[s.ID] = true
		if strings.TrimSpace(s.Title) == "" {
			l.errorf("exercise.yaml", line, "step %q: title is required", s.ID)
		}
		st := Step{ID: s.ID, Title: s.Title, Transient: s.Transient}
		if sol := path.Join("solution", s.ID+".sh"); fileExists(l.fsys, path.Join(l.dir, sol)) {
			st.Solution = sol
		}
		if s.File == "" {
			l.errorf("exercise.yaml", line, "step %q: file (its Markdown text) is required", s.ID)
		} else if body, ok := l.read(s.File); ok {
			st.Body = string(body)
		}
		e.Steps = append(e.Steps, st)
	}
	l.loadChecks(e)
	return e
}

// loadChecks reads checks.yaml: step ID → list of checks.
func (l *loader) loadChecks(e *Exercise) {
	const file = "checks.yaml"
	if _, err := fs.Stat(l.fsys, path.Join(l.dir, file)); err != nil {
		return // an exercise may be reading only
	}
	data, ok := l.read(file)
	if !ok {
		return
	}
	checks := map[string][]Check{}
	if !l.decodeStrict(file, data, &checks) {
		return
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	for stepID, list := range checks {
		i := slices.IndexFunc(e.Steps, func(s Step) bool { return s.ID == stepID })
		if i < 0 {
			l.errorf(file, keyLine(&root, stepID), "step %q is not a step of exercise.yaml (steps: %s)", stepID, strings.Join(stepIDList(e), ", "))
			continue
		}
		for j := range list {
			c := &list[j]
			c.File, c.Line = path.Join(l.display, file), seqItemLine(&root, stepID, j)
			for _, msg := range ValidateCheck(c) {
				l.errorf(file, c.Line, "check %q: %s", c.Name, msg)
			}
		}
		e.Steps[i].Checks = list
	}
}

func stepIDList(e *Exercise) []string {
	var ids []string
	for _, s := range e.Steps {
		ids = append(ids, s.ID)
	}
	return ids
}

// keyLine returns the line of a top-level mapping key (0 when absent).
func keyLine(root *yaml.Node, key string) int {
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key {
			return root.Content[i].Line
		}
	}
	return 0
}

// seqItemLine returns the line of item i of the top-level sequence under key.
func seqItemLine(root *yaml.Node, key string, i int) int {
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return 0
	}
	for k := 0; k+1 < len(root.Content); k += 2 {
		if root.Content[k].Value == key {
			seq := root.Content[k+1]
			if seq.Kind == yaml.SequenceNode && i < len(seq.Content) {
				return seq.Content[i].Line
			}
			return root.Content[k].Line
		}
	}
	return 0
}

// TemplateFuncNames are the functions check templates may call; the grader defines them
// (see exercises/grade). Stubs let the loader check that templates parse.
var TemplateFuncNames = []string{"ns", "clusterIP", "nodePort", "lbIP", "podIP", "podName", "nodeIP", "node", "field"}

func parseTemplate(s string) error {
	if !strings.Contains(s, "{{") {
		return nil
	}
	funcs := template.FuncMap{}
	for _, n := range TemplateFuncNames {
		funcs[n] = func(...any) string { return "" }
	}
	_, err := template.New("check").Option("missingkey=error").Funcs(funcs).Parse(s)
	return err
}

func fileExists(fsys fs.FS, name string) bool {
	st, err := fs.Stat(fsys, name)
	return err == nil && !st.IsDir()
}
