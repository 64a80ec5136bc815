package apiserver

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/util/dryrun"

	"github.com/svclab/svclab/apiserver-lite/service"
)

// ipAddressStore keeps allocated ClusterIPs as IPAddress objects in the ipaddresses store,
// so allocation is visible (`kubectl get ipaddresses`) as in current Kubernetes.
type ipAddressStore struct {
	store *genericregistry.Store
}

var _ service.IPAddressStore = ipAddressStore{}

func systemContext(ctx context.Context) context.Context {
	return genericapirequest.WithNamespace(ctx, metav1.NamespaceNone)
}

func (s ipAddressStore) Create(ctx context.Context, ip *networkingv1.IPAddress) error {
	_, err := s.store.Create(systemContext(ctx), ip, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	return err
}

func (s ipAddressStore) Delete(ctx context.Context, name string) error {
	_, _, err := s.store.Delete(systemContext(ctx), name, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{})
	return err
}

func (s ipAddressStore) List(ctx context.Context) ([]networkingv1.IPAddress, error) {
	obj, err := s.store.List(systemContext(ctx), nil)
	if err != nil {
		return nil, err
	}
	return obj.(*networkingv1.IPAddressList).Items, nil
}

// wireServiceAllocation makes the services store allocate ClusterIPs and NodePorts inside
// the API server, as Kubernetes does: on create and update before the object is stored
// (committed only if the write succeeds), released after delete.
func wireServiceAllocation(store *genericregistry.Store, alloc *service.Allocators) {
	store.BeginCreate = func(ctx context.Context, obj runtime.Object, options *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
		svc := obj.(*corev1.Service)
		if errs := serviceNameErrors(svc); len(errs) > 0 {
			return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, errs)
		}
		txn, err := alloc.AllocateCreate(ctx, svc, dryrun.IsDryRun(options.DryRun))
		if err != nil {
			return nil, err
		}
		return finishTxn(txn), nil
	}
	store.BeginUpdate = func(ctx context.Context, obj, old runtime.Object, options *metav1.UpdateOptions) (genericregistry.FinishFunc, error) {
		txn, err := alloc.AllocateUpdate(ctx, obj.(*corev1.Service), old.(*corev1.Service), dryrun.IsDryRun(options.DryRun))
		if err != nil {
			return nil, err
		}
		return finishTxn(txn), nil
	}
	store.AfterDelete = func(obj runtime.Object, options *metav1.DeleteOptions) {
		if dryrun.IsDryRun(options.DryRun) {
			return
		}
		alloc.Release(context.Background(), obj.(*corev1.Service))
	}
}

// serviceNameErrors checks the name before allocation. Allocation runs before validation (as
// in kube-apiserver) and stores an IPAddress whose parentRef names the Service, so a name
// such as "a/b" would otherwise fail there as a 500 instead of validation's 422.
func serviceNameErrors(svc *corev1.Service) field.ErrorList {
	if svc.Name == "" {
		if svc.GenerateName == "" {
			return field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name or generateName is required")}
		}
		return nil
	}
	var errs field.ErrorList
	for _, msg := range apimachineryvalidation.NameIsDNS1035Label(svc.Name, false) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), svc.Name, msg))
	}
	return errs
}

func finishTxn(txn service.Txn) genericregistry.FinishFunc {
	return func(ctx context.Context, success bool) {
		if success {
			txn.Commit()
		} else {
			txn.Revert()
		}
	}
}

// restoreServiceAllocation rebuilds the allocators' state from the stored Services at start.
// The watch caches fill in the background while this runs, and a list that races with one
// can fail with "storage is (re)initializing"; Restore is idempotent, so retry for a while.
func restoreServiceAllocation(ctx context.Context, store *genericregistry.Store, alloc *service.Allocators) error {
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		lastErr = restoreServiceAllocationOnce(ctx, store, alloc)
		return lastErr == nil, nil
	})
	if err != nil && lastErr != nil {
		return lastErr
	}
	return err
}

func restoreServiceAllocationOnce(ctx context.Context, store *genericregistry.Store, alloc *service.Allocators) error {
	obj, err := store.List(genericapirequest.WithNamespace(ctx, metav1.NamespaceAll), nil)
	if err != nil {
		return err
	}
	return alloc.Restore(ctx, obj.(*corev1.ServiceList).Items)
}
