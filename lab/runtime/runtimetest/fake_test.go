package runtimetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/svclab/svclab/lab/runtime"
)

func TestFake(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	f.StopExitCode = 143
	if err := f.EnsureImage(ctx, "svclab/agent:v2"); err != nil {
		t.Errorf("EnsureImage(builtin): %v", err)
	}
	if err := f.EnsureImage(ctx, "nginx"); !errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("EnsureImage(nginx) = %v, want ErrImageNotFound", err)
	}
	f.AddImage("nginx:latest")
	if err := f.EnsureImage(ctx, "docker.io/library/nginx"); err != nil {
		t.Errorf("EnsureImage(nginx) after AddImage: %v", err)
	}
	spec := runtime.ContainerSpec{ID: "a", Image: "svclab.local/agent:v1"}
	if err := f.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := f.Start(ctx, spec); err == nil {
		t.Error("second Start of the same ID succeeded")
	}
	if st, _ := f.Status(ctx, "a"); st.State != runtime.StateRunning || st.PID == 0 {
		t.Errorf("Status = %+v", st)
	}
	if err := f.Remove(ctx, "a"); err == nil {
		t.Error("Remove of a running container succeeded")
	}
	f.ExecHook = func(id string, req runtime.ExecRequest) (int, error) { return 7, nil }
	if code, err := f.Exec(ctx, "a", runtime.ExecRequest{Cmd: []string{"true"}}); code != 7 || err != nil {
		t.Errorf("Exec = %d, %v", code, err)
	}
	if err := f.Stop(ctx, "a", time.Second); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Status(ctx, "a"); st.State != runtime.StateExited || st.ExitCode != 143 || st.Reason != "Error" {
		t.Errorf("Status after Stop = %+v", st)
	}
	f.Start(ctx, runtime.ContainerSpec{ID: "b", Image: "svclab.local/agent:v1"})
	f.Exit("b", 0)
	if st, _ := f.Status(ctx, "b"); st.State != runtime.StateExited || st.Reason != "Completed" {
		t.Errorf("Status after Exit = %+v", st)
	}
	f.FailNext("Remove", errors.New("boom"))
	if err := f.Remove(ctx, "b"); err == nil || err.Error() != "boom" {
		t.Errorf("Remove with FailNext = %v", err)
	}
	if err := f.Remove(ctx, "b"); err != nil {
		t.Errorf("Remove: %v", err)
	}
	if _, err := f.Status(ctx, "b"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status after Remove = %v", err)
	}
	if ids, _ := f.List(ctx); !slices.Equal(ids, []string{"a"}) {
		t.Errorf("List = %v", ids)
	}
	f.Cleanup(ctx)
	if ids, _ := f.List(ctx); len(ids) != 0 {
		t.Errorf("List after Cleanup = %v", ids)
	}
	want := []string{"EnsureImage svclab/agent:v2", "EnsureImage nginx", "EnsureImage docker.io/library/nginx", "Start a", "Start a", "Status a", "Remove a", "Exec a", "Stop a", "Status a",
		"Start b", "Status b", "Remove b", "Remove b", "Status b", "List ", "Cleanup ", "List "}
	if got := f.Methods(); !slices.Equal(got, want) {
		t.Errorf("Methods =\n%q\nwant\n%q", got, want)
	}
}
