package faults

import "testing"

// TestEtcdFaults runs the etcd fault tests one after another, each on a cluster of its own. They
// need the CPU (two gateways and three etcd members in one process, under -race); the gateway
// crash test, which mostly waits for a killed process's webhook claims to expire, runs beside
// them (both top-level tests are parallel).
func TestEtcdFaults(t *testing.T) {
	t.Parallel()
	t.Run("EveryTokenRedeemsOnceAcrossInstances", everyTokenRedeemsOnce)
	t.Run("MemberKilledUnderLoad", memberKilledUnderLoad)
	t.Run("QuorumLost", quorumLost)
}
