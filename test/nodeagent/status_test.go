package nodeagent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func argoPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "argo"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "quay.io/argoproj/argoexec:v3.7.9"}},
			Containers: []corev1.Container{
				{Name: "wait", Image: "quay.io/argoproj/argoexec:v3.7.9"},
				{Name: "main", Image: "alpine:3"},
			},
		},
	}
}

func TestPodPhaseAndStatus(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	waiting := func(reason string) containerState { return containerState{reason: reason} }
	running := containerState{phase: containerRunning, startedAt: t0}
	exited := func(code int32) containerState {
		return terminatedState(containerResult{ExitCode: code, StartedAt: t0, FinishedAt: t0.Add(time.Second)}, "", "id")
	}
	type condWant map[corev1.PodConditionType]corev1.ConditionStatus
	tests := []struct {
		name        string
		state       podState
		wantPhase   corev1.PodPhase
		wantConds   condWant
		wantReasons []string // init..., main... state reasons
	}{
		{
			name:        "set-up",
			state:       podState{init: []containerState{waiting("PodInitializing")}, main: []containerState{waiting("PodInitializing"), waiting("PodInitializing")}},
			wantPhase:   corev1.PodPending,
			wantConds:   condWant{corev1.PodInitialized: corev1.ConditionFalse, corev1.PodReady: corev1.ConditionFalse, corev1.PodScheduled: corev1.ConditionTrue, corev1.PodReadyToStartContainers: corev1.ConditionFalse},
			wantReasons: []string{"PodInitializing", "PodInitializing", "PodInitializing"},
		},
		{
			name:        "init running",
			state:       podState{volumesReady: true, init: []containerState{running}, main: []containerState{waiting("PodInitializing"), waiting("PodInitializing")}},
			wantPhase:   corev1.PodPending,
			wantConds:   condWant{corev1.PodInitialized: corev1.ConditionFalse, corev1.PodReadyToStartContainers: corev1.ConditionTrue},
			wantReasons: []string{"", "PodInitializing", "PodInitializing"},
		},
		{
			name:        "init failed",
			state:       podState{init: []containerState{exited(1)}, main: []containerState{waiting("PodInitializing"), waiting("PodInitializing")}},
			wantPhase:   corev1.PodFailed,
			wantConds:   condWant{corev1.PodInitialized: corev1.ConditionFalse, corev1.ContainersReady: corev1.ConditionFalse},
			wantReasons: []string{"Error", "PodInitializing", "PodInitializing"},
		},
		{
			name:        "all running",
			state:       podState{init: []containerState{exited(0)}, main: []containerState{running, running}},
			wantPhase:   corev1.PodRunning,
			wantConds:   condWant{corev1.PodInitialized: corev1.ConditionTrue, corev1.ContainersReady: corev1.ConditionTrue, corev1.PodReady: corev1.ConditionTrue},
			wantReasons: []string{"Completed", "", ""},
		},
		{
			name:        "main done, wait still running",
			state:       podState{init: []containerState{exited(0)}, main: []containerState{running, exited(0)}},
			wantPhase:   corev1.PodRunning,
			wantConds:   condWant{corev1.PodReady: corev1.ConditionFalse},
			wantReasons: []string{"Completed", "", "Completed"},
		},
		{
			name:        "succeeded",
			state:       podState{init: []containerState{exited(0)}, main: []containerState{exited(0), exited(0)}},
			wantPhase:   corev1.PodSucceeded,
			wantConds:   condWant{corev1.PodReady: corev1.ConditionFalse, corev1.PodInitialized: corev1.ConditionTrue},
			wantReasons: []string{"Completed", "Completed", "Completed"},
		},
		{
			name:        "main exit 3 fails the pod",
			state:       podState{init: []containerState{exited(0)}, main: []containerState{exited(0), exited(3)}},
			wantPhase:   corev1.PodFailed,
			wantReasons: []string{"Completed", "Completed", "Error"},
		},
		{
			name:        "pod-level failure",
			state:       podState{failReason: "NodeAgentShutdown", init: []containerState{exited(0)}, main: []containerState{running, running}},
			wantPhase:   corev1.PodFailed,
			wantReasons: []string{"Completed", "", ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := argoPod()
			st := buildStatus(pod, &tc.state, nil, "127.0.0.1", "127.0.0.1", t0)
			if st.Phase != tc.wantPhase || podPhase(&tc.state) != tc.wantPhase {
				t.Errorf("phase %s, want %s", st.Phase, tc.wantPhase)
			}
			if st.PodIP != "127.0.0.1" || st.HostIP != "127.0.0.1" || len(st.PodIPs) != 1 {
				t.Errorf("IPs: pod %q %v host %q", st.PodIP, st.PodIPs, st.HostIP)
			}
			if tc.state.failReason != "" && st.Reason != tc.state.failReason {
				t.Errorf("reason %q, want %q", st.Reason, tc.state.failReason)
			}
			for typ, want := range tc.wantConds {
				found := false
				for _, c := range st.Conditions {
					if c.Type == typ {
						found = true
						if c.Status != want {
							t.Errorf("condition %s = %s, want %s", typ, c.Status, want)
						}
					}
				}
				if !found {
					t.Errorf("no condition %s", typ)
				}
			}
			all := append(append([]corev1.ContainerStatus{}, st.InitContainerStatuses...), st.ContainerStatuses...)
			if len(all) != len(tc.wantReasons) {
				t.Fatalf("%d container statuses, want %d", len(all), len(tc.wantReasons))
			}
			for i, cs := range all {
				var reason string
				switch {
				case cs.State.Waiting != nil:
					reason = cs.State.Waiting.Reason
				case cs.State.Terminated != nil:
					reason = cs.State.Terminated.Reason
				case cs.State.Running == nil:
					t.Errorf("container %s has no state", cs.Name)
				}
				if reason != tc.wantReasons[i] {
					t.Errorf("container %s reason %q, want %q", cs.Name, reason, tc.wantReasons[i])
				}
				if cs.State.Running != nil && (!cs.Ready || cs.Started == nil || !*cs.Started) {
					t.Errorf("running container %s: ready %v started %v", cs.Name, cs.Ready, cs.Started)
				}
			}
		})
	}
}

func TestTerminatedState(t *testing.T) {
	t0 := time.Now()
	tests := []struct {
		res        containerResult
		message    string
		wantReason string
		wantMsg    string
		wantCode   int32
	}{
		{containerResult{ExitCode: 0}, "", "Completed", "", 0},
		{containerResult{ExitCode: 3}, "boom", "Error", "boom", 3},
		{containerResult{ExitCode: 137}, "", "Error", "", 137},
		{containerResult{ExitCode: 128, StartError: `command "nope" not found`}, "", "StartError", `command "nope" not found`, 128},
	}
	for _, tc := range tests {
		tc.res.StartedAt, tc.res.FinishedAt = t0, t0
		st := terminatedState(tc.res, tc.message, "id")
		if st.reason != tc.wantReason || st.message != tc.wantMsg || st.exitCode != tc.wantCode || st.phase != containerTerminated {
			t.Errorf("terminatedState(%+v) = %+v; want reason %q message %q code %d", tc.res, st, tc.wantReason, tc.wantMsg, tc.wantCode)
		}
	}
}

func TestConditionTransitionTimesKept(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	pod := argoPod()
	s := &podState{init: []containerState{{reason: "PodInitializing"}}, main: []containerState{{}, {}}}
	first := buildStatus(pod, s, nil, "127.0.0.1", "127.0.0.1", t0)
	s.volumesReady = true
	second := buildStatus(pod, s, first.Conditions, "127.0.0.1", "127.0.0.1", t1)
	for _, c := range second.Conditions {
		want := t0
		if c.Type == corev1.PodReadyToStartContainers {
			want = t1 // it changed
		}
		if !c.LastTransitionTime.Time.Equal(want) {
			t.Errorf("condition %s transition %v, want %v", c.Type, c.LastTransitionTime.Time, want)
		}
	}
}

func TestStateFromStatus(t *testing.T) {
	pod := argoPod()
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	pod.Status = corev1.PodStatus{
		Phase:     corev1.PodRunning,
		StartTime: &t0,
		InitContainerStatuses: []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: t0, FinishedAt: t0}}}},
		ContainerStatuses: []corev1.ContainerStatus{
			{Name: "wait", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t0}}},
			{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error", StartedAt: t0, FinishedAt: t0}}},
		},
	}
	if !startedBefore(pod) {
		t.Fatal("startedBefore = false for a running pod")
	}
	s := stateFromStatus(pod, time.Now())
	s.failReason = "NodeAgentRestarted"
	st := buildStatus(pod, s, nil, "127.0.0.1", "127.0.0.1", time.Now())
	if st.Phase != corev1.PodFailed {
		t.Errorf("phase %s, want Failed", st.Phase)
	}
	// The API refuses to turn a terminated container back; nothing may
	// go back to waiting or running.
	for _, cs := range append(st.InitContainerStatuses, st.ContainerStatuses...) {
		if cs.State.Terminated == nil {
			t.Errorf("container %s not terminated: %+v", cs.Name, cs.State)
		}
	}
	if got := st.ContainerStatuses[0].State.Terminated; got.Reason != "ContainerStatusUnknown" || got.ExitCode != 137 {
		t.Errorf("lost container: %+v", got)
	}
	if got := st.ContainerStatuses[1].State.Terminated; got.ExitCode != 3 {
		t.Errorf("main kept exit code %d, want 3", got.ExitCode)
	}
	if startedBefore(argoPod()) {
		t.Error("startedBefore = true for a new pod")
	}
}
