// Package conformance runs the Gateway API conformance suite with the options given by
// the suite's own flags (--gateway-class, --conformance-profiles, --report-output, ...).
package conformance

import (
	"testing"

	"sigs.k8s.io/gateway-api/conformance"
)

func TestConformance(t *testing.T) {
	conformance.RunConformance(t)
}
