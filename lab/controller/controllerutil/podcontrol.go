package controllerutil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// Event reasons used by the pod-managing controllers (upstream names).
const (
	FailedCreatePodReason     = "FailedCreate"
	SuccessfulCreatePodReason = "SuccessfulCreate"
	FailedDeletePodReason     = "FailedDelete"
	SuccessfulDeletePodReason = "SuccessfulDelete"
)

// SlowStartInitialBatchSize is the first batch size of SlowStartBatch.
const SlowStartInitialBatchSize = 1

// PodControl creates, deletes and patches pods on behalf of a controller and records events on
// the controller object, like upstream RealPodControl.
type PodControl struct {
	Client   kubernetes.Interface
	Recorder record.EventRecorder
	Log      *slog.Logger
}

// GetPodFromTemplate builds a pod (generateName "<owner>-") from template, owned by controllerRef.
func GetPodFromTemplate(template *corev1.PodTemplateSpec, parent runtime.Object, controllerRef *metav1.OwnerReference) (*corev1.Pod, error) {
	acc, err := meta.Accessor(parent)
	if err != nil {
		return nil, fmt.Errorf("parent object has no ObjectMeta: %w", err)
	}
	prefix := acc.GetName() + "-"
	if len(apimachineryvalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		prefix = acc.GetName()
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Labels:       copyMap(template.Labels),
			Annotations:  copyMap(template.Annotations),
			GenerateName: prefix,
			Finalizers:   append([]string(nil), template.Finalizers...),
		},
	}
	if controllerRef != nil {
		pod.OwnerReferences = append(pod.OwnerReferences, *controllerRef)
	}
	pod.Spec = *template.Spec.DeepCopy()
	return pod, nil
}

func copyMap(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// CreatePods creates one pod from template in namespace, owned by controllerRef, and records
// SuccessfulCreate ("Created pod: NAME") or FailedCreate on object.
func (c *PodControl) CreatePods(ctx context.Context, namespace string, template *corev1.PodTemplateSpec, object runtime.Object, controllerRef *metav1.OwnerReference) error {
	if controllerRef == nil || controllerRef.Controller == nil || !*controllerRef.Controller {
		return errors.New("create pods: controllerRef must be a controller reference")
	}
	pod, err := GetPodFromTemplate(template, object, controllerRef)
	if err != nil {
		return err
	}
	pod.Namespace = namespace
	if len(pod.Labels) == 0 {
		return errors.New("unable to create pods, no labels")
	}
	created, err := c.Client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.Recorder.Eventf(object, corev1.EventTypeWarning, FailedCreatePodReason, "Error creating: %v", err)
		}
		return err
	}
	c.Log.Debug("created pod", "namespace", namespace, "pod", created.Name)
	c.Recorder.Eventf(object, corev1.EventTypeNormal, SuccessfulCreatePodReason, "Created pod: %v", created.Name)
	return nil
}

// DeletePod deletes namespace/name and records SuccessfulDelete ("Deleted pod: NAME") or
// FailedDelete on object. A NotFound error is returned as is, without an event.
func (c *PodControl) DeletePod(ctx context.Context, namespace, name string, object runtime.Object) error {
	if err := c.Client.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		c.Recorder.Eventf(object, corev1.EventTypeWarning, FailedDeletePodReason, "Error deleting: %v", err)
		return fmt.Errorf("unable to delete pods: %w", err)
	}
	c.Log.Debug("deleted pod", "namespace", namespace, "pod", name)
	c.Recorder.Eventf(object, corev1.EventTypeNormal, SuccessfulDeletePodReason, "Deleted pod: %v", name)
	return nil
}

// PatchPod applies a strategic merge patch to a pod.
func (c *PodControl) PatchPod(ctx context.Context, namespace, name string, data []byte) error {
	_, err := c.Client.CoreV1().Pods(namespace).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
	return err
}

// SlowStartBatch calls fn count times in batches that start at initialBatchSize and double
// while every call succeeds; it stops after the first batch with a failure and returns the
// number of successful calls and the first error.
func SlowStartBatch(count, initialBatchSize int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initialBatchSize); batch > 0; batch = min(2*batch, remaining) {
		errCh := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					errCh <- err
				}
			}()
		}
		wg.Wait()
		successes += batch - len(errCh)
		if len(errCh) > 0 {
			return successes, <-errCh
		}
		remaining -= batch
	}
	return successes, nil
}
