//go:build linux

package alb

import (
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/nettest"
)

// connectTimeoutErrorRows is the 504 for a target that never answers the
// TCP handshake (alb.md §2.1: 10 s connect timeout; shortened here).
func connectTimeoutErrorRows() []lbErrorCase {
	return []lbErrorCase{{
		name: "504-connect-timeout", status: 504, connection: "keep-alive",
		setup: func(t *testing.T) (*model.Listener, func(*Config)) {
			tg := noHealthCheck(mkTG("alb-tg", &model.Target{ID: "10.0.1.107", Addr: "10.0.1.107:80", Local: nettest.SYNDroppingAddr(t)}))
			return httpListener(80, forward(tg)), func(c *Config) { c.connectTimeout = 300 * time.Millisecond }
		},
	}}
}
