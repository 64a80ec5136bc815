package runtime

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Multi serves pods from several runtimes, chosen per pod by its RuntimeClass handler the
// way a CRI runtime does: "" is the default runtime, any other handler must be registered.
// Containers are remembered by ID; after a restart an unknown ID is looked up in each
// runtime.
type Multi struct {
	def      Runtime
	handlers map[string]Runtime

	mu    sync.Mutex
	owner map[string]Runtime
}

var _ Runtime = (*Multi)(nil)

// NewMulti returns a Multi with def as the default runtime and extra runtimes by handler.
func NewMulti(def Runtime, handlers map[string]Runtime) *Multi {
	return &Multi{def: def, handlers: handlers, owner: map[string]Runtime{}}
}

// Handlers returns the registered handler names, sorted.
func (m *Multi) Handlers() []string {
	var out []string
	for h := range m.handlers {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// Default returns the default runtime.
func (m *Multi) Default() Runtime { return m.def }

// ForHandler returns the runtime serving handler.
func (m *Multi) ForHandler(handler string) (Runtime, error) {
	if handler == "" {
		return m.def, nil
	}
	if rt, ok := m.handlers[handler]; ok {
		return rt, nil
	}
	return nil, fmt.Errorf("no runtime handler %q is configured on this node (known: %v)", handler, m.Handlers())
}

func (m *Multi) all() []Runtime {
	out := []Runtime{m.def}
	for _, h := range m.Handlers() {
		if rt := m.handlers[h]; rt != m.def {
			out = append(out, rt)
		}
	}
	return out
}

// Name implements Runtime: the default runtime's name.
func (m *Multi) Name() string { return m.def.Name() }

// EnsureImage implements Runtime on the default runtime.
func (m *Multi) EnsureImage(ctx context.Context, ref string) error {
	return m.def.EnsureImage(ctx, ref)
}

// EnsureImageFor makes ref available to the runtime of handler.
func (m *Multi) EnsureImageFor(ctx context.Context, handler, ref string) error {
	rt, err := m.ForHandler(handler)
	if err != nil {
		return err
	}
	return rt.EnsureImage(ctx, ref)
}

// Start implements Runtime.
func (m *Multi) Start(ctx context.Context, spec ContainerSpec) error {
	rt, err := m.ForHandler(spec.Handler)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.owner[spec.ID] = rt
	m.mu.Unlock()
	return rt.Start(ctx, spec)
}

// find returns the runtime holding id.
func (m *Multi) find(ctx context.Context, id string) (Runtime, error) {
	m.mu.Lock()
	rt := m.owner[id]
	m.mu.Unlock()
	if rt != nil {
		return rt, nil
	}
	for _, rt := range m.all() {
		if _, err := rt.Status(ctx, id); err == nil {
			m.mu.Lock()
			m.owner[id] = rt
			m.mu.Unlock()
			return rt, nil
		}
	}
	return nil, fmt.Errorf("container %s: %w", id, ErrNotFound)
}

// Stop implements Runtime.
func (m *Multi) Stop(ctx context.Context, id string, grace time.Duration) error {
	rt, err := m.find(ctx, id)
	if err != nil {
		return err
	}
	return rt.Stop(ctx, id, grace)
}

// Status implements Runtime.
func (m *Multi) Status(ctx context.Context, id string) (Status, error) {
	rt, err := m.find(ctx, id)
	if err != nil {
		return Status{}, err
	}
	return rt.Status(ctx, id)
}

// Exec implements Runtime.
func (m *Multi) Exec(ctx context.Context, id string, req ExecRequest) (int, error) {
	rt, err := m.find(ctx, id)
	if err != nil {
		return -1, err
	}
	return rt.Exec(ctx, id, req)
}

// Remove implements Runtime.
func (m *Multi) Remove(ctx context.Context, id string) error {
	rt, err := m.find(ctx, id)
	if err != nil {
		return err
	}
	err = rt.Remove(ctx, id)
	if err == nil {
		m.mu.Lock()
		delete(m.owner, id)
		m.mu.Unlock()
	}
	return err
}

// List implements Runtime: the containers of every runtime.
func (m *Multi) List(ctx context.Context) ([]string, error) {
	var out []string
	for _, rt := range m.all() {
		ids, err := rt.List(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	return out, nil
}

// Cleanup implements Runtime on every runtime.
func (m *Multi) Cleanup(ctx context.Context) error {
	var errs []error
	for _, rt := range m.all() {
		errs = append(errs, rt.Cleanup(ctx))
	}
	return errors.Join(errs...)
}

// Close implements Runtime on every runtime.
func (m *Multi) Close() error {
	var errs []error
	for _, rt := range m.all() {
		errs = append(errs, rt.Close())
	}
	return errors.Join(errs...)
}
