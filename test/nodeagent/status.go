package nodeagent

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// containerPhase is where a container is in its only run.
type containerPhase int

const (
	containerWaiting containerPhase = iota
	containerRunning
	containerTerminated
)

// containerState is the agent's record of one container.
type containerState struct {
	phase containerPhase
	// reason and message belong to the waiting or terminated state.
	reason, message       string
	exitCode              int32
	startedAt, finishedAt time.Time
	containerID           string
	// unready: running, but its readiness probe has not passed (yet).
	unready bool
}

// podState is the agent's record of one pod, from which its API status is
// built. init and main follow the order of the spec's InitContainers and
// Containers.
type podState struct {
	startTime    time.Time
	volumesReady bool
	init, main   []containerState
	// failReason and failMessage fail the pod as a whole (it could not be
	// set up, or the agent stopped it).
	failReason, failMessage string
}

// newPodState has every container waiting: init containers (or, without
// any, the others) for the pod to be set up, the others for the init
// containers.
func newPodState(pod *corev1.Pod, now time.Time) *podState {
	s := &podState{startTime: now}
	for range pod.Spec.InitContainers {
		s.init = append(s.init, containerState{reason: "PodInitializing"})
	}
	mainReason := "ContainerCreating"
	if len(pod.Spec.InitContainers) > 0 {
		mainReason = "PodInitializing"
	}
	for range pod.Spec.Containers {
		s.main = append(s.main, containerState{reason: mainReason})
	}
	return s
}

// lostContainerState is what a container becomes that the agent no
// longer knows (it restarted while the container ran); the reason and
// exit code are a kubelet's for the same situation.
func lostContainerState(startedAt time.Time, now time.Time) containerState {
	return containerState{
		phase:      containerTerminated,
		reason:     "ContainerStatusUnknown",
		message:    "The container could not be located when the pod was terminated",
		exitCode:   137,
		startedAt:  startedAt,
		finishedAt: now,
	}
}

// stateFromStatus rebuilds a podState from a status reported earlier
// (by a previous run of the agent): terminated containers stay as they
// were (the API refuses to un-terminate them), running ones are lost.
func stateFromStatus(pod *corev1.Pod, now time.Time) *podState {
	s := newPodState(pod, now)
	if pod.Status.StartTime != nil {
		s.startTime = pod.Status.StartTime.Time
	}
	restore := func(states []containerState, specs []corev1.Container, statuses []corev1.ContainerStatus) {
		for i, c := range specs {
			for _, cs := range statuses {
				if cs.Name != c.Name {
					continue
				}
				switch {
				case cs.State.Terminated != nil:
					t := cs.State.Terminated
					states[i] = containerState{phase: containerTerminated, reason: t.Reason, message: t.Message,
						exitCode: t.ExitCode, startedAt: t.StartedAt.Time, finishedAt: t.FinishedAt.Time, containerID: cs.ContainerID}
				case cs.State.Running != nil:
					states[i] = lostContainerState(cs.State.Running.StartedAt.Time, now)
					states[i].containerID = cs.ContainerID
				}
			}
		}
	}
	restore(s.init, pod.Spec.InitContainers, pod.Status.InitContainerStatuses)
	restore(s.main, pod.Spec.Containers, pod.Status.ContainerStatuses)
	return s
}

// startedBefore says whether a pod's status shows containers that ran.
func startedBefore(pod *corev1.Pod) bool {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.State.Running != nil || cs.State.Terminated != nil {
				return true
			}
		}
	}
	return pod.Status.Phase == corev1.PodRunning
}

// terminatedState records how a container ended. message is what it
// wrote to its termination-message file (or the tail of its log).
func terminatedState(res containerResult, message, containerID string) containerState {
	st := containerState{
		phase:       containerTerminated,
		exitCode:    res.ExitCode,
		startedAt:   res.StartedAt,
		finishedAt:  res.FinishedAt,
		message:     message,
		containerID: containerID,
	}
	switch {
	case res.StartError != "":
		st.reason = "StartError"
		st.message = res.StartError
	case res.ExitCode == 0:
		st.reason = "Completed"
	default:
		st.reason = "Error"
	}
	return st
}

// podPhase derives the phase the way a kubelet does for restartPolicy
// Never (the only policy this agent implements).
func podPhase(s *podState) corev1.PodPhase {
	if s.failReason != "" {
		return corev1.PodFailed
	}
	for _, c := range s.init {
		if c.phase != containerTerminated {
			return corev1.PodPending
		}
		if c.exitCode != 0 {
			return corev1.PodFailed
		}
	}
	started, ended, failed := false, 0, false
	for _, c := range s.main {
		if c.phase != containerWaiting {
			started = true
		}
		if c.phase == containerTerminated {
			ended++
			failed = failed || c.exitCode != 0
		}
	}
	switch {
	case len(s.main) > 0 && ended == len(s.main) && failed:
		return corev1.PodFailed
	case len(s.main) > 0 && ended == len(s.main):
		return corev1.PodSucceeded
	case started:
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// buildStatus is the pod's whole status as the agent reports it.
// Conditions keep their transition time from prev while unchanged.
func buildStatus(pod *corev1.Pod, s *podState, prev []corev1.PodCondition, podIP, hostIP string, now time.Time) corev1.PodStatus {
	phase := podPhase(s)
	st := corev1.PodStatus{
		Phase:     phase,
		HostIP:    hostIP,
		HostIPs:   []corev1.HostIP{{IP: hostIP}},
		PodIP:     podIP,
		PodIPs:    []corev1.PodIP{{IP: podIP}},
		StartTime: &metav1.Time{Time: s.startTime},
	}
	if s.failReason != "" {
		st.Reason, st.Message = s.failReason, s.failMessage
	}
	for i, c := range pod.Spec.InitContainers {
		st.InitContainerStatuses = append(st.InitContainerStatuses, containerStatus(c, s.init[i]))
	}
	for i, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(c, s.main[i]))
	}

	final := phase == corev1.PodSucceeded || phase == corev1.PodFailed
	var conds []corev1.PodCondition
	add := func(t corev1.PodConditionType, ok bool, reason, message string) {
		status := corev1.ConditionFalse
		if ok {
			status = corev1.ConditionTrue
			reason, message = "", ""
		}
		conds = append(conds, corev1.PodCondition{Type: t, Status: status, Reason: reason, Message: message})
	}
	add(corev1.PodReadyToStartContainers, s.volumesReady && !final, "", "")
	var notInit []string
	for i, c := range s.init {
		if c.phase != containerTerminated || c.exitCode != 0 {
			notInit = append(notInit, pod.Spec.InitContainers[i].Name)
		}
	}
	add(corev1.PodInitialized, len(notInit) == 0, "ContainersNotInitialized",
		fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(notInit, " ")))
	var notReady []string
	for i, c := range s.main {
		if c.phase != containerRunning || c.unready {
			notReady = append(notReady, pod.Spec.Containers[i].Name)
		}
	}
	readyReason, readyMessage := "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " "))
	if final {
		readyReason, readyMessage = "PodCompleted", ""
	}
	ready := phase == corev1.PodRunning && len(notReady) == 0
	add(corev1.ContainersReady, ready, readyReason, readyMessage)
	add(corev1.PodReady, ready, readyReason, readyMessage)
	add(corev1.PodScheduled, true, "", "")
	for i := range conds {
		conds[i].LastTransitionTime = metav1.Time{Time: now}
		for _, old := range prev {
			if old.Type == conds[i].Type && old.Status == conds[i].Status && !old.LastTransitionTime.IsZero() {
				conds[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	st.Conditions = conds
	return st
}

func containerStatus(c corev1.Container, s containerState) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image, ContainerID: s.containerID}
	started := false
	switch s.phase {
	case containerWaiting:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: s.reason, Message: s.message}
	case containerRunning:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: s.startedAt}}
		cs.Ready, started = !s.unready, true
	case containerTerminated:
		cs.State.Terminated = &corev1.ContainerStateTerminated{
			ExitCode:    s.exitCode,
			Reason:      s.reason,
			Message:     s.message,
			StartedAt:   metav1.Time{Time: s.startedAt},
			FinishedAt:  metav1.Time{Time: s.finishedAt},
			ContainerID: s.containerID,
		}
	}
	cs.Started = &started
	return cs
}
