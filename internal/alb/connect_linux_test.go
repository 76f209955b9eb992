//go:build linux

package alb

import (
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/nettest"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
)

func TestTargetConnectTimeout504(t *testing.T) {
	addr := nettest.SYNDroppingAddr(t)
	tg := mkTG("alb-tg", &model.Target{ID: "10.0.1.107", Addr: "10.0.1.107:80", Local: addr})
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l), connectTimeout: 300 * time.Millisecond})
	resp, body := get(t, noRedirectClient(), "http://"+ru.addrs[l]+"/", map[string]string{"User-Agent": "curl/7.58.0"})
	golden(t, resp, body, 504, "testdata/504.html")
	checkRecord(t, ru.sink.wait(t, 1)[0], accesslog.ALBRecord{
		Type: "http", ELB: testLBFullName, Target: "10.0.1.107:80",
		RequestProcessingTime: -1, TargetProcessingTime: -1, ResponseProcessingTime: -1,
		ELBStatus: 504, Request: "GET http://127.0.0.1:80/ HTTP/1.1", UserAgent: "curl/7.58.0",
		TargetGroupARN: testTGARN, ActionsExecuted: "forward",
	})
}
