package nftables

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/knftables"
)

// elementStorage remembers what one set or map holds in the kernel, so a partial sync
// only adds, replaces and deletes the elements that changed (upstream's
// nftElementStorage).
type elementStorage struct {
	isSet     bool
	name      string
	elements  map[string]string
	leftovers sets.Set[string]
}

func newElementStorage(isSet bool, name string) *elementStorage {
	return &elementStorage{isSet: isSet, name: name, elements: map[string]string{}, leftovers: sets.New[string]()}
}

func joinKey(k []string) string  { return strings.Join(k, " . ") }
func splitKey(k string) []string { return strings.Split(k, " . ") }

// reset flushes the container in tx and forgets its contents (full syncs).
func (s *elementStorage) reset(tx *knftables.Transaction) {
	clear(s.elements)
	if s.isSet {
		tx.Flush(&knftables.Set{Name: s.name})
	} else {
		tx.Flush(&knftables.Map{Name: s.name})
	}
	s.resetLeftovers()
}

func (s *elementStorage) resetLeftovers() {
	clear(s.leftovers)
	for k := range s.elements {
		s.leftovers.Insert(k)
	}
}

// ensure adds elem to tx unless the container already holds it with the same value.
func (s *elementStorage) ensure(tx *knftables.Transaction, elem *knftables.Element) {
	if s.isSet {
		elem.Set = s.name
	} else {
		elem.Map = s.name
	}
	key, value := joinKey(elem.Key), joinKey(elem.Value)
	old, exists := s.elements[key]
	switch {
	case !exists:
		tx.Add(elem)
	case old != value:
		tx.Delete(elem)
		tx.Add(elem)
	}
	s.elements[key] = value
	s.leftovers.Delete(key)
}

// cleanup deletes in tx the elements no ensure call asked for since the last sync.
func (s *elementStorage) cleanup(tx *knftables.Transaction) {
	for _, key := range sets.List(s.leftovers) {
		e := &knftables.Element{Key: splitKey(key)}
		if s.isSet {
			e.Set = s.name
		} else {
			e.Map = s.name
		}
		tx.Delete(e)
		delete(s.elements, key)
	}
	s.resetLeftovers()
}
