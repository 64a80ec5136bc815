package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Teardown removes everything the network layer made for lab, found by name and tag rather
// than from memory, so it also cleans up after the lab process was killed at any moment: the
// lab's links in the host (tagged with the alias svclab:<lab>:...), its pod and node
// namespaces (svclab-<lab>-..., unless another lab recorded that name), its host routes
// (ProtoSvclab with the lab's realm) and its state directory. It is idempotent and touches
// nothing it did not create. Options select the kernel and state root, as for New.
func Teardown(ctx context.Context, lab string, opts ...Option) error {
	o, err := buildOptions(opts)
	if err != nil {
		return err
	}
	return teardown(ctx, o.kernel, o.stateRoot, lab, o.log.With("component", "network", "lab", lab))
}

func teardown(ctx context.Context, k Kernel, root, lab string, log *slog.Logger) error {
	if err := ValidateLabName(lab); err != nil {
		return fmt.Errorf("tear down: %w", err)
	}
	dir := labStateDir(root, lab)
	var plan *Plan
	var p Plan
	if err := readJSON(filepath.Join(dir, "plan.json"), &p); err == nil {
		plan = &p
	}
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	// Host links: node veths first, then the bridge.
	links, err := k.Links("")
	keep(err)
	sort.SliceStable(links, func(i, j int) bool { return links[i].Kind != "bridge" && links[j].Kind == "bridge" })
	bridge := BridgeName(lab)
	if plan != nil {
		bridge = plan.Bridge
	}
	for _, l := range links {
		if ownLink(lab, bridge, l) {
			log.Debug("delete link", "link", l.Name)
			keep(k.DeleteLink("", l.Name))
		}
	}

	// Namespaces: pods first, then nodes.
	if err := ctx.Err(); err != nil {
		return err
	}
	names, err := k.NetNSNames()
	keep(err)
	mine := recordedNetNS(dir)
	others := otherLabsNetNS(root, lab)
	podPrefix := PodNetNS(lab, "")
	sort.SliceStable(names, func(i, j int) bool {
		return strings.HasPrefix(names[i], podPrefix) && !strings.HasPrefix(names[j], podPrefix)
	})
	for _, name := range names {
		if mine[name] || (strings.HasPrefix(name, NodeNetNS(lab, "")) && !others[name]) {
			log.Debug("delete namespace", "netns", name)
			keep(k.DeleteNetNS(name))
		}
	}

	// Host routes that outlived their device, or have none (unreachable).
	if err := ctx.Err(); err != nil {
		return err
	}
	routes, err := k.Routes("")
	keep(err)
	realm := labRealm(lab)
	for _, r := range routes {
		if r.Protocol != ProtoSvclab || r.Realm != realm {
			continue
		}
		if plan != nil && !plan.covers(r) {
			continue // another lab's route that happens to share the realm
		}
		log.Debug("delete route", "route", r.String())
		keep(k.DeleteRoute("", r))
	}

	if r, ok := k.(interface{ restoreNetNSDir() error }); ok {
		keep(r.restoreNetNSDir())
	}
	if len(errs) == 0 {
		keep(os.RemoveAll(dir))
		os.Remove(filepath.Dir(dir)) // <root>/<lab>, if nothing else is left in it
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tear down the network of lab %s: %w", lab, err)
	}
	log.Info("network torn down")
	return nil
}

// ownLink says whether a host link belongs to lab: by its alias or, for a link left untagged
// by a crash between creating and tagging it, by the lab's bridge name or veth name prefix.
func ownLink(lab, bridge string, l Link) bool {
	if l.Alias != "" {
		return strings.HasPrefix(l.Alias, aliasPrefix(lab))
	}
	prefix := strings.TrimSuffix(hostVethName(lab, 0), "0")
	return (l.Kind == "veth" && strings.HasPrefix(l.Name, prefix)) || (l.Kind == "bridge" && l.Name == bridge)
}

// covers says whether a route's destination lies in one of the plan's ranges.
func (p Plan) covers(r Route) bool {
	for _, q := range p.ranges() {
		if q.IsValid() && r.Dst.IsValid() && q.Overlaps(r.Dst) {
			return true
		}
	}
	return false
}

// otherLabsNetNS lists namespace names recorded by other labs under root.
func otherLabsNetNS(root, lab string) map[string]bool {
	out := map[string]bool{}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if !e.IsDir() || e.Name() == lab {
			continue
		}
		for name := range recordedNetNS(labStateDir(root, e.Name())) {
			out[name] = true
		}
	}
	return out
}
