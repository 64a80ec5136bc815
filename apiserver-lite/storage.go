package apiserver

import (
	"fmt"
	"path"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage/storagebackend"
)

// restOptionsGetter hands every resource the same etcd, with the watch cache in front (it
// serves watch bookmarks, streaming lists and consistent reads as kube-apiserver does).
type restOptionsGetter struct {
	etcdURL string
}

var _ generic.RESTOptionsGetter = restOptionsGetter{}

// storageVersion is the version objects of a group are written in: the one version served.
func storageVersion(gr schema.GroupResource) (schema.GroupVersion, error) {
	for _, gv := range servedGroupVersions {
		if gv.Group == gr.Group {
			return gv, nil
		}
	}
	return schema.GroupVersion{}, fmt.Errorf("no served version for group %q", gr.Group)
}

func (g restOptionsGetter) GetRESTOptions(gr schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	gv, err := storageVersion(gr)
	if err != nil {
		return generic.RESTOptions{}, err
	}
	info, ok := runtime.SerializerInfoForMediaType(Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		return generic.RESTOptions{}, fmt.Errorf("no protobuf serializer")
	}
	hub := schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
	codec := Codecs.CodecForVersions(info.Serializer, Codecs.UniversalDeserializer(), gv, hub)
	cfg := storagebackend.NewDefaultConfig("/registry", codec)
	cfg.Transport.ServerList = []string{g.etcdURL}
	cfg.EncodeVersioner = gv
	prefix := gr.Resource
	if gr.Group != "" {
		prefix = path.Join(gr.Group, gr.Resource)
	}
	return generic.RESTOptions{
		StorageConfig:           cfg.ForResource(gr),
		Decorator:               genericregistry.StorageWithCacher(),
		EnableGarbageCollection: true,
		DeleteCollectionWorkers: 1,
		ResourcePrefix:          prefix,
	}, nil
}
