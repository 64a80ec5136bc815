package servicetest

import (
	"context"
	"sort"
	"sync"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// IPAddressStore is an in-memory service.IPAddressStore. It records how many objects were
// created and deleted, and can be told to fail.
type IPAddressStore struct {
	mu      sync.Mutex
	objs    map[string]networkingv1.IPAddress
	Creates int
	Deletes int
	// FailCreate, when set, is returned by Create.
	FailCreate error
}

// NewIPAddressStore returns an empty store holding the given objects.
func NewIPAddressStore(objs ...networkingv1.IPAddress) *IPAddressStore {
	s := &IPAddressStore{objs: map[string]networkingv1.IPAddress{}}
	for _, o := range objs {
		s.objs[o.Name] = o
	}
	return s
}

// Create stores ip, or returns AlreadyExists.
func (s *IPAddressStore) Create(_ context.Context, ip *networkingv1.IPAddress) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FailCreate != nil {
		return s.FailCreate
	}
	if _, ok := s.objs[ip.Name]; ok {
		return apierrors.NewAlreadyExists(networkingv1.Resource("ipaddresses"), ip.Name)
	}
	s.objs[ip.Name] = *ip.DeepCopy()
	s.Creates++
	return nil
}

// Delete removes the named object, or returns NotFound.
func (s *IPAddressStore) Delete(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[name]; !ok {
		return apierrors.NewNotFound(networkingv1.Resource("ipaddresses"), name)
	}
	delete(s.objs, name)
	s.Deletes++
	return nil
}

// List returns the objects sorted by name.
func (s *IPAddressStore) List(context.Context) ([]networkingv1.IPAddress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]networkingv1.IPAddress, 0, len(s.objs))
	for _, o := range s.objs {
		out = append(out, *o.DeepCopy())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Names returns the stored object names, sorted.
func (s *IPAddressStore) Names() []string {
	objs, _ := s.List(context.Background())
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
	}
	return names
}

// Get returns the named object.
func (s *IPAddressStore) Get(name string) (networkingv1.IPAddress, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[name]
	return o, ok
}
