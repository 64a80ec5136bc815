package apiserver

import (
	"fmt"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
)

// registerConnectOptions teaches the scheme to read the options of the connect subresources
// (pods/exec, pods/attach, pods/portforward, pods/proxy, services/proxy) from a query string;
// upstream's conversions live in k8s.io/kubernetes, not in k8s.io/api.
func registerConnectOptions(s *runtime.Scheme) {
	conv := map[any]func(url.Values, any) error{
		(*corev1.PodExecOptions)(nil): func(q url.Values, out any) error {
			o := out.(*corev1.PodExecOptions)
			var err error
			o.Stdin, o.Stdout, o.Stderr, o.TTY, err = streamFlags(q)
			o.Container, o.Command = q.Get("container"), q["command"]
			return err
		},
		(*corev1.PodAttachOptions)(nil): func(q url.Values, out any) error {
			o := out.(*corev1.PodAttachOptions)
			var err error
			o.Stdin, o.Stdout, o.Stderr, o.TTY, err = streamFlags(q)
			o.Container = q.Get("container")
			return err
		},
		(*corev1.PodPortForwardOptions)(nil): func(q url.Values, out any) error {
			o := out.(*corev1.PodPortForwardOptions)
			o.Ports = nil
			for _, v := range q["ports"] {
				p, err := strconv.ParseInt(v, 10, 32)
				if err != nil {
					return apierrors.NewBadRequest(fmt.Sprintf("invalid value %q for ports", v))
				}
				o.Ports = append(o.Ports, int32(p))
			}
			return nil
		},
		(*corev1.PodProxyOptions)(nil): func(q url.Values, out any) error {
			out.(*corev1.PodProxyOptions).Path = q.Get("path")
			return nil
		},
		(*corev1.ServiceProxyOptions)(nil): func(q url.Values, out any) error {
			out.(*corev1.ServiceProxyOptions).Path = q.Get("path")
			return nil
		},
	}
	for typ, fn := range conv {
		err := s.AddConversionFunc((*url.Values)(nil), typ, func(a, b any, _ conversion.Scope) error {
			return fn(*a.(*url.Values), b)
		})
		if err != nil {
			panic(err)
		}
	}
}

// streamFlags reads stdin, stdout, stderr and tty ("true" or "1").
func streamFlags(q url.Values) (stdin, stdout, stderr, tty bool, err error) {
	flag := func(key string) bool {
		v := q.Get(key)
		if v == "" {
			return false
		}
		b, perr := strconv.ParseBool(v)
		if perr != nil && err == nil {
			err = apierrors.NewBadRequest(fmt.Sprintf("invalid value %q for %s", v, key))
		}
		return b
	}
	return flag("stdin"), flag("stdout"), flag("stderr"), flag("tty"), err
}
